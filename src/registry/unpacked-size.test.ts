import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { parseReference } from "../reference/index.ts";
import { createRegistryClient, type RegistryClient } from "./client.ts";
import {
  GZIP_ISIZE_BYTES,
  layerCompression,
  unpackedFromIsize,
  UNPACKED_SIZE_LIMITS,
} from "./unpacked-size.ts";

const trailer = (gzip: Buffer): Buffer => gzip.subarray(gzip.length - GZIP_ISIZE_BYTES);

describe("unpackedFromIsize", () => {
  it("reads what a gzip stream unpacks to from its last 4 bytes", () => {
    const zeros = gzipSync(Buffer.alloc(3_000_000), { level: 1 });
    expect(zeros.length).toBeLessThan(100_000);
    expect(unpackedFromIsize(zeros.length, trailer(zeros))).toBe(3_000_000);
    const text = gzipSync(Buffer.from("layer ".repeat(10_000)));
    expect(unpackedFromIsize(text.length, trailer(text))).toBe(60_000);
  });

  it("leaves a layer unsized where ISIZE is ambiguous: below the compressed size, or a layer of 4 GiB or more", () => {
    // Incompressible bytes come out a little larger than they went in.
    const random = gzipSync(randomBytes(200_000));
    expect(random.readUInt32LE(random.length - 4)).toBe(200_000);
    expect(unpackedFromIsize(random.length, trailer(random))).toBeUndefined();
    // What a 5 GiB layer of zeros would say: 1 GiB, modulo 4 GiB.
    const wrapped = Buffer.alloc(4);
    wrapped.writeUInt32LE(2 ** 30);
    expect(unpackedFromIsize(6_000_000, wrapped)).toBe(2 ** 30);
    expect(unpackedFromIsize(2 ** 32, wrapped)).toBeUndefined();
    expect(unpackedFromIsize(100, Buffer.alloc(3))).toBeUndefined();
  });
});

describe("layerCompression", () => {
  it("tells gzip'd, uncompressed and other layers apart by media type", () => {
    expect(layerCompression("application/vnd.oci.image.layer.v1.tar+gzip")).toBe("gzip");
    expect(layerCompression("application/vnd.docker.image.rootfs.diff.tar.gzip")).toBe("gzip");
    expect(layerCompression("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")).toBe("gzip");
    expect(layerCompression("application/vnd.oci.image.layer.v1.tar")).toBe("none");
    expect(layerCompression("application/vnd.oci.image.layer.v1.tar+zstd")).toBe("other");
    expect(layerCompression("application/vnd.cncf.model.weights.v1")).toBe("other");
  });
});

// A registry on loopback that serves one manifest and its blobs, honouring ranges (or not).

const servers: Server[] = [];
const clients: RegistryClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    ),
  );
});

const digestOf = (bytes: Buffer): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

interface Layer {
  readonly mediaType: string;
  readonly bytes: Buffer;
}

const GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

interface FakeRegistry {
  readonly host: string;
  /** The Range header of each blob request, in order. */
  readonly ranges: Array<string | undefined>;
  readonly manifestSize: number;
}

async function serveImage(
  layers: readonly Layer[],
  behaviour: { ignoreRanges?: boolean; redirectBlobs?: boolean } = {},
): Promise<FakeRegistry> {
  const config = Buffer.from("{}");
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(config), size: 2 },
      layers: layers.map((layer) => ({
        mediaType: layer.mediaType,
        digest: digestOf(layer.bytes),
        size: layer.bytes.length,
      })),
    }),
  );
  const blobs = new Map(layers.map((layer) => [digestOf(layer.bytes), layer.bytes]));
  const ranges: Array<string | undefined> = [];
  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    const url = request.url ?? "";
    if (url.includes("/manifests/")) {
      response.writeHead(200, {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "docker-content-digest": digestOf(manifest),
        "content-length": manifest.length,
      });
      response.end(request.method === "HEAD" ? undefined : manifest);
      return;
    }
    const blob = /\/blobs\/(sha256:[a-f0-9]+)/.exec(url);
    const bytes = blob?.[1] === undefined ? undefined : blobs.get(blob[1]);
    if (bytes === undefined) {
      response.writeHead(404).end();
      return;
    }
    if (behaviour.redirectBlobs === true && !url.startsWith("/storage/")) {
      response.writeHead(307, { location: `/storage${url}` }).end();
      return;
    }
    ranges.push(request.headers.range);
    const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? "");
    if (range === null || behaviour.ignoreRanges === true) {
      response.writeHead(200, { "content-length": bytes.length });
      response.end(bytes);
      return;
    }
    const start = Number(range[1]);
    const end = Number(range[2]);
    response.writeHead(206, {
      "content-length": end - start + 1,
      "content-range": `bytes ${start}-${end}/${bytes.length}`,
    });
    response.end(bytes.subarray(start, end + 1));
  };
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const host = `127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  return { host, ranges, manifestSize: 2 + layers.reduce((sum, layer) => sum + layer.bytes.length, 0) };
}

function client(limits = UNPACKED_SIZE_LIMITS): RegistryClient {
  const made = createRegistryClient({ maxRetries: 0, requestTimeoutMs: 5_000, unpackedSizeLimits: limits });
  clients.push(made);
  return made;
}

const zeros = (size: number, seed: number): Buffer => {
  const bytes = Buffer.alloc(size);
  bytes.writeUInt32LE(seed);
  return gzipSync(bytes, { level: 1 });
};

describe("resolve withSize: what the layers unpack to", () => {
  it("reads each gzip'd layer's trailer with a range request, counts tar layers as they are, and leaves the rest unsized", async () => {
    const tar = Buffer.alloc(10_240, 7);
    const random = gzipSync(randomBytes(50_000));
    const zstd = randomBytes(1_000);
    const registry = await serveImage([
      { mediaType: GZIP, bytes: zeros(2_000_000, 1) },
      { mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", bytes: zeros(500_000, 2) },
      { mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: tar },
      { mediaType: GZIP, bytes: random },
      { mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", bytes: zstd },
    ]);
    const registryClient = client();
    const resolved = await registryClient.resolve(parseReference(`${registry.host}/app:1`), {
      withSize: true,
    });
    expect(resolved.platformSize).toBe(registry.manifestSize);
    expect(resolved.pullSize).toEqual({
      compressed: registry.manifestSize,
      uncompressed: 2_000_000 + 500_000 + tar.length,
      unsized: random.length + zstd.length,
    });
    // Three gzip'd layers, the last 4 bytes of each; nothing for the tar and zstd layers.
    expect(registry.ranges).toHaveLength(3);
    for (const range of registry.ranges) expect(range).toMatch(/^bytes=\d+-\d+$/);

    // Remembered by digest: asking again reads nothing.
    const again = await registryClient.resolve(parseReference(`${registry.host}/app:1`), { withSize: true });
    expect(again.pullSize).toEqual(resolved.pullSize);
    expect(registry.ranges).toHaveLength(3);
  });

  it("follows a registry's redirect to storage with the range", async () => {
    const registry = await serveImage([{ mediaType: GZIP, bytes: zeros(1_000_000, 3) }], {
      redirectBlobs: true,
    });
    const resolved = await client().resolve(parseReference(`${registry.host}/app:1`), { withSize: true });
    expect(resolved.pullSize?.uncompressed).toBe(1_000_000);
    expect(registry.ranges).toHaveLength(1);
  });

  it("leaves a layer unsized when the registry ignores the range, without reading the blob", async () => {
    const layer = zeros(8_000_000, 4);
    const registry = await serveImage([{ mediaType: GZIP, bytes: layer }], { ignoreRanges: true });
    const registryClient = client();
    const resolved = await registryClient.resolve(parseReference(`${registry.host}/app:1`), {
      withSize: true,
    });
    expect(resolved.pullSize).toEqual({
      compressed: registry.manifestSize,
      uncompressed: 0,
      unsized: layer.length,
    });
    // The answer is remembered for a while, so the whole blob is not offered again and again.
    await registryClient.resolve(parseReference(`${registry.host}/app:1`), { withSize: true });
    expect(registry.ranges).toHaveLength(1);
  });

  it("asks for at most a bounded number of layers per image, a few at a time", async () => {
    const layers = Array.from({ length: 12 }, (_, i) => ({ mediaType: GZIP, bytes: zeros(100_000, i) }));
    const registry = await serveImage(layers);
    const registryClient = client({ ...UNPACKED_SIZE_LIMITS, requestsPerImage: 5, concurrency: 2 });
    const resolved = await registryClient.resolve(parseReference(`${registry.host}/app:1`), {
      withSize: true,
    });
    expect(registry.ranges).toHaveLength(5);
    expect(resolved.pullSize?.uncompressed).toBe(5 * 100_000);
    expect(resolved.pullSize?.unsized).toBe(
      layers.slice(5).reduce((sum, layer) => sum + layer.bytes.length, 0),
    );
    // The next lookup reads the next five: what was read is remembered.
    const next = await registryClient.resolve(parseReference(`${registry.host}/app:1`), { withSize: true });
    expect(registry.ranges).toHaveLength(10);
    expect(next.pullSize?.uncompressed).toBe(10 * 100_000);
  });

  it("reads nothing when no size is asked for", async () => {
    const registry = await serveImage([{ mediaType: GZIP, bytes: zeros(1_000, 5) }]);
    const resolved = await client().resolve(parseReference(`${registry.host}/app:1`));
    expect(resolved.pullSize).toBeUndefined();
    expect(registry.ranges).toEqual([]);
  });
});
