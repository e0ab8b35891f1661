import { createCipheriv, createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { request } from "undici";
import type { RegistryInstance } from "./registry.ts";
import { nodePlatform } from "../../src/registry/index.ts";

export interface LayerSpec {
  readonly size: number;
  readonly seed: string;
  /**
   * Share of the layer's bytes that are random (1, the default, makes it incompressible); the
   * rest are zeros, so a layer unpacks to about `1 / entropy` times its compressed size.
   */
  readonly entropy?: number;
}

/** A layer of named files, such as a program the image runs. */
export interface FileLayer {
  readonly files: ReadonlyArray<{ readonly path: string; readonly content: Buffer; readonly mode?: number }>;
}

export interface PushedImage {
  /** `host:port/path`, as pods write it before the tag. */
  readonly repository: string;
  readonly tag: string | undefined;
  /** Top-level digest: the manifest's, or the index's for a multi-platform image. */
  readonly digest: string;
  readonly mediaType: string;
  /** Config digest of the manifest this node's platform pulls (the runtime's image id). */
  readonly configDigest: string;
  /** Config plus layer bytes of that manifest. */
  readonly platformSize: number;
  /** `repository:tag`, or `repository@digest` when untagged. */
  readonly reference: string;
}

interface Blob {
  readonly digest: string;
  readonly bytes: Buffer;
}

interface BuiltManifest {
  readonly manifest: Blob;
  readonly mediaType: string;
  readonly configDigest: string;
  readonly size: number;
  readonly blobs: readonly Blob[];
}

const MEDIA = {
  oci: {
    manifest: "application/vnd.oci.image.manifest.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
    layer: "application/vnd.oci.image.layer.v1.tar+gzip",
  },
  docker: {
    manifest: "application/vnd.docker.distribution.manifest.v2+json",
    config: "application/vnd.docker.container.image.v1+json",
    layer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  },
} as const;
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const ACCEPT = [
  OCI_INDEX,
  MEDIA.oci.manifest,
  "application/vnd.docker.distribution.manifest.list.v2+json",
  MEDIA.docker.manifest,
].join(", ");

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function blob(bytes: Buffer): Blob {
  return { digest: sha256(bytes), bytes };
}

/** Incompressible bytes that depend only on the seed: AES-CTR over zeros. */
function seededBytes(seed: string, size: number): Buffer {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/** Every 64 KiB block starts with `entropy` of random bytes and ends in zeros. */
function layerBytes(layer: LayerSpec): Buffer {
  const entropy = layer.entropy ?? 1;
  if (entropy >= 1) return seededBytes(layer.seed, layer.size);
  const block = 64 * 1024;
  const perBlock = Math.round(block * entropy);
  const blocks = Math.ceil(layer.size / block);
  const random = seededBytes(layer.seed, perBlock * blocks);
  const out = Buffer.alloc(layer.size);
  for (let i = 0; i < blocks; i++) {
    const start = i * block;
    random.copy(out, start, i * perBlock, i * perBlock + Math.min(perBlock, layer.size - start));
  }
  return out;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

interface TarEntry {
  readonly name: string;
  readonly content: Buffer;
  readonly mode?: number | undefined;
}

/** A ustar archive of regular files, with fixed owner and time. */
function tarOf(entries: readonly TarEntry[]): Buffer {
  return Buffer.concat([...entries.map(tarEntry), Buffer.alloc(1024)]);
}

function singleFileTar(name: string, content: Buffer): Buffer {
  return tarOf([{ name, content }]);
}

function tarEntry({ name, content, mode = 0o644 }: TarEntry): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "utf8");
  header.write(octal(mode, 8), 100);
  header.write(octal(0, 8), 108);
  header.write(octal(0, 8), 116);
  header.write(octal(content.length, 12), 124);
  header.write(octal(0, 12), 136);
  header.write(" ".repeat(8), 148);
  header.write("0", 156);
  header.write("ustar\u000000", 257);
  let checksum = 0;
  for (const byte of header) checksum += byte;
  header.write(`${checksum.toString(8).padStart(6, "0")}\0 `, 148);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding]);
}

function layerTar(layer: LayerSpec | FileLayer, index: number): Buffer {
  if ("files" in layer) {
    return tarOf(layer.files.map((file) => ({ name: file.path.replace(/^\//, ""), ...file })));
  }
  return singleFileTar(`layer-${index}.bin`, layerBytes(layer));
}

function buildManifest(
  platform: { os: string; architecture: string; variant?: string | undefined },
  layers: ReadonlyArray<LayerSpec | FileLayer>,
  flavour: "oci" | "docker",
  entrypoint?: readonly string[],
): BuiltManifest {
  const media = MEDIA[flavour];
  const tars = layers.map(layerTar);
  const compressed = tars.map((tar) => blob(gzipSync(tar, { level: 1 })));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        config: entrypoint ? { Entrypoint: entrypoint } : {},
        rootfs: { type: "layers", diff_ids: tars.map((tar) => sha256(tar)) },
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: media.manifest,
        config: { mediaType: media.config, digest: config.digest, size: config.bytes.length },
        layers: compressed.map((layer) => ({
          mediaType: media.layer,
          digest: layer.digest,
          size: layer.bytes.length,
        })),
      }),
    ),
  );
  return {
    manifest,
    mediaType: media.manifest,
    configDigest: config.digest,
    size: config.bytes.length + compressed.reduce((sum, layer) => sum + layer.bytes.length, 0),
    blobs: [config, ...compressed],
  };
}

function headers(registry: RegistryInstance, extra: Record<string, string> = {}): Record<string, string> {
  const credentials = registry.credentials;
  return {
    ...extra,
    ...(credentials
      ? {
          authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`,
        }
      : {}),
  };
}

async function expectStatus(
  what: string,
  response: Awaited<ReturnType<typeof request>>,
  statuses: readonly number[],
): Promise<void> {
  if (statuses.includes(response.statusCode)) return;
  const body = await response.body.text();
  throw new Error(`${what}: registry answered ${response.statusCode}: ${body.slice(0, 300)}`);
}

async function pushBlob(registry: RegistryInstance, path: string, item: Blob): Promise<void> {
  const { dispatcher } = registry;
  const head = await request(`${registry.url}/v2/${path}/blobs/${item.digest}`, {
    method: "HEAD",
    headers: headers(registry),
    dispatcher,
  });
  await head.body.dump();
  if (head.statusCode === 200) return;
  const start = await request(`${registry.url}/v2/${path}/blobs/uploads/`, {
    method: "POST",
    headers: headers(registry),
    dispatcher,
  });
  await expectStatus(`start upload to ${path}`, start, [202]);
  await start.body.dump();
  const location = new URL(String(start.headers.location), registry.url);
  location.searchParams.set("digest", item.digest);
  const put = await request(location, {
    method: "PUT",
    headers: headers(registry, { "content-type": "application/octet-stream" }),
    body: item.bytes,
    dispatcher,
  });
  await expectStatus(`upload ${item.digest} to ${path}`, put, [201]);
  await put.body.dump();
}

async function putManifest(
  registry: RegistryInstance,
  path: string,
  reference: string,
  mediaType: string,
  bytes: Buffer,
): Promise<void> {
  const response = await request(`${registry.url}/v2/${path}/manifests/${reference}`, {
    method: "PUT",
    headers: headers(registry, { "content-type": mediaType }),
    body: bytes,
    dispatcher: registry.dispatcher,
  });
  await expectStatus(`put manifest ${path}:${reference}`, response, [201]);
  await response.body.dump();
}

function pushed(
  registry: RegistryInstance,
  path: string,
  tag: string | undefined,
  fields: Omit<PushedImage, "repository" | "tag" | "reference">,
): PushedImage {
  const repository = `${registry.host}/${path}`;
  return {
    repository,
    tag,
    ...fields,
    reference: tag === undefined ? `${repository}@${fields.digest}` : `${repository}:${tag}`,
  };
}

/** Builds a single-platform image for this node and pushes it through the distribution API. */
export async function pushImage(
  registry: RegistryInstance,
  options: {
    repository: string;
    tag?: string;
    layers?: Array<LayerSpec | FileLayer>;
    seed?: string;
    mediaType?: "oci" | "docker";
    /** The program the image runs; none by default. */
    entrypoint?: string[];
  },
): Promise<PushedImage> {
  const seed = options.seed ?? `${options.repository}:${options.tag ?? ""}`;
  const built = buildManifest(
    nodePlatform(),
    options.layers ?? [{ size: 1024, seed }],
    options.mediaType ?? "oci",
    options.entrypoint,
  );
  for (const item of built.blobs) await pushBlob(registry, options.repository, item);
  await putManifest(
    registry,
    options.repository,
    options.tag ?? built.manifest.digest,
    built.mediaType,
    built.manifest.bytes,
  );
  return pushed(registry, options.repository, options.tag, {
    digest: built.manifest.digest,
    mediaType: built.mediaType,
    configDigest: built.configDigest,
    platformSize: built.size,
  });
}

/** Builds one manifest per platform and an OCI index over them, and pushes it all. */
export async function pushIndex(
  registry: RegistryInstance,
  options: {
    repository: string;
    tag?: string;
    platforms: Array<{ os: string; architecture: string; variant?: string; layers?: LayerSpec[] }>;
    seed?: string;
  },
): Promise<PushedImage> {
  const seed = options.seed ?? `${options.repository}:${options.tag ?? ""}`;
  const built = options.platforms.map((platform) => ({
    platform,
    image: buildManifest(
      platform,
      platform.layers ?? [{ size: 1024, seed: `${seed}/${platform.os}/${platform.architecture}` }],
      "oci",
    ),
  }));
  for (const { image } of built) {
    for (const item of image.blobs) await pushBlob(registry, options.repository, item);
    await putManifest(
      registry,
      options.repository,
      image.manifest.digest,
      image.mediaType,
      image.manifest.bytes,
    );
  }
  const index = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: built.map(({ platform, image }) => ({
          mediaType: image.mediaType,
          digest: image.manifest.digest,
          size: image.manifest.bytes.length,
          platform: {
            os: platform.os,
            architecture: platform.architecture,
            ...(platform.variant ? { variant: platform.variant } : {}),
          },
        })),
      }),
    ),
  );
  await putManifest(registry, options.repository, options.tag ?? index.digest, OCI_INDEX, index.bytes);
  const node = nodePlatform();
  const mine = built.find(
    ({ platform }) => platform.os === node.os && platform.architecture === node.architecture,
  );
  return pushed(registry, options.repository, options.tag, {
    digest: index.digest,
    mediaType: OCI_INDEX,
    configDigest: mine?.image.configDigest ?? "",
    platformSize: mine?.image.size ?? 0,
  });
}

/** Points `tag` at an existing manifest, as a re-push of the tag would. */
export async function tagImage(
  registry: RegistryInstance,
  repository: string,
  digest: string,
  tag: string,
): Promise<void> {
  const response = await request(`${registry.url}/v2/${repository}/manifests/${digest}`, {
    headers: headers(registry, { accept: ACCEPT }),
    dispatcher: registry.dispatcher,
  });
  await expectStatus(`get manifest ${repository}@${digest}`, response, [200]);
  const mediaType = String(response.headers["content-type"]);
  const bytes = Buffer.from(await response.body.arrayBuffer());
  await putManifest(registry, repository, tag, mediaType, bytes);
}

export async function deleteManifest(
  registry: RegistryInstance,
  repository: string,
  digest: string,
): Promise<void> {
  const response = await request(`${registry.url}/v2/${repository}/manifests/${digest}`, {
    method: "DELETE",
    headers: headers(registry),
    dispatcher: registry.dispatcher,
  });
  await expectStatus(`delete ${repository}@${digest}`, response, [202]);
  await response.body.dump();
}

/** The OCI empty descriptor's content: the config of an artifact that has none. */
const EMPTY_CONFIG = { mediaType: "application/vnd.oci.empty.v1+json", bytes: Buffer.from("{}") } as const;

/**
 * Builds an OCI 1.1 artifact as image volumes use them and containerd 2.x pulls through CRI: an
 * image manifest with an `artifactType`, the empty config `{}` and uncompressed tar layers (or
 * blobs of another media type), and pushes it. `platformSize` is the sum of its blobs.
 */
export async function pushArtifact(
  registry: RegistryInstance,
  options: {
    repository: string;
    tag?: string;
    artifactType?: string;
    layers?: LayerSpec[];
    layerMediaType?: string;
  },
): Promise<PushedImage> {
  const seed = `${options.repository}:${options.tag ?? ""}`;
  const layers = (options.layers ?? [{ size: 1024, seed }]).map((layer, i) =>
    blob(singleFileTar(`data-${i}.bin`, seededBytes(layer.seed, layer.size))),
  );
  const config = blob(EMPTY_CONFIG.bytes);
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.oci.manifest,
        artifactType: options.artifactType ?? "application/vnd.prepull.test.volume.v1",
        config: {
          mediaType: EMPTY_CONFIG.mediaType,
          digest: config.digest,
          size: config.bytes.length,
          data: config.bytes.toString("base64"),
        },
        layers: layers.map((layer) => ({
          mediaType: options.layerMediaType ?? "application/vnd.oci.image.layer.v1.tar",
          digest: layer.digest,
          size: layer.bytes.length,
        })),
      }),
    ),
  );
  for (const item of [config, ...layers]) await pushBlob(registry, options.repository, item);
  await putManifest(
    registry,
    options.repository,
    options.tag ?? manifest.digest,
    MEDIA.oci.manifest,
    manifest.bytes,
  );
  return pushed(registry, options.repository, options.tag, {
    digest: manifest.digest,
    mediaType: MEDIA.oci.manifest,
    configDigest: config.digest,
    platformSize: config.bytes.length + layers.reduce((sum, layer) => sum + layer.bytes.length, 0),
  });
}
