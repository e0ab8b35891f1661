import { createReadStream } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { z } from "zod";
import { InputError } from "../failure/index.ts";
import {
  blobPath,
  DOCKER_MANIFEST_FILE,
  INDEX_FILE,
  LAYOUT_FILE,
  LAYOUT_JSON_LIMIT,
  layoutFileSchema,
  layoutIndexSchema,
  type LayoutDescriptor,
} from "./layout.ts";
import { indexTar, type TarMember } from "./tar-index.ts";

/** A bundle that cannot be read: named, with what is wrong; other bundles are still used. */
export class BundleError extends InputError {}

/** One OCI image layout, read from a directory or from a tar file of one. */
export interface LayoutSource {
  readonly path: string;
  readonly kind: "directory" | "archive";
  /** index.json's entries. */
  readonly descriptors: readonly LayoutDescriptor[];
  /** The blob's size in the bundle, `undefined` when the bundle does not hold it. */
  blobSize(digest: string): Promise<number | undefined>;
  /** Small documents (manifests, configs) in full; at most `LAYOUT_JSON_LIMIT` bytes. */
  readBlob(digest: string): Promise<Buffer>;
  openBlob(digest: string): Readable;
}

/**
 * Reads a bundle: a directory holding `oci-layout`, or a tar file of one (`--archive`,
 * `oci-archive:`, `ctr images export`, `docker save` from Docker 25 on). A Docker archive with
 * only `manifest.json` is refused: it carries no registry digest, so nothing in it can be matched
 * to a lock.
 */
export async function openLayoutSource(path: string): Promise<LayoutSource> {
  const info = await stat(path).catch((error: unknown) => {
    throw new BundleError(`${path}: cannot read the bundle (${(error as Error).message})`);
  });
  return info.isDirectory() ? openDirectory(path) : openArchive(path);
}

function parseJson<T>(bytes: Buffer, schema: z.ZodType<T>, where: string): T {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new BundleError(`${where}: not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new BundleError(
    `${where}: ${issue ? `${issue.path.join(".") || "document"}: ${issue.message}` : "invalid"}`,
  );
}

function dockerArchiveError(path: string): BundleError {
  return new BundleError(
    `${path}: a Docker archive without an OCI layout (docker save before Docker 25, skopeo docker-archive:) names no registry digest, so nothing in it can be matched to a lock; make the bundle with prepull bundle, skopeo copy … oci-archive:, ctr images export or Docker 25 or later`,
  );
}

function checkLayout(
  path: string,
  files: { layout?: Buffer; index?: Buffer; dockerManifest: boolean },
): readonly LayoutDescriptor[] {
  if (files.layout === undefined || files.index === undefined) {
    if (files.dockerManifest) throw dockerArchiveError(path);
    throw new BundleError(
      `${path}: not an OCI image layout (no ${files.layout === undefined ? LAYOUT_FILE : INDEX_FILE})`,
    );
  }
  parseJson(files.layout, layoutFileSchema, `${path}: ${LAYOUT_FILE}`);
  return parseJson(files.index, layoutIndexSchema, `${path}: ${INDEX_FILE}`).manifests;
}

async function readSmall(file: string): Promise<Buffer | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined) return undefined;
  if (info.size > LAYOUT_JSON_LIMIT) throw new BundleError(`${file}: larger than ${LAYOUT_JSON_LIMIT} bytes`);
  return readFile(file);
}

async function openDirectory(path: string): Promise<LayoutSource> {
  const layout = await readSmall(join(path, LAYOUT_FILE));
  const index = await readSmall(join(path, INDEX_FILE));
  const dockerManifest = (await stat(join(path, DOCKER_MANIFEST_FILE)).catch(() => undefined)) !== undefined;
  const descriptors = checkLayout(path, {
    ...(layout ? { layout } : {}),
    ...(index ? { index } : {}),
    dockerManifest,
  });
  const fileOf = (digest: string): string => join(path, blobPath(digest));
  return {
    path,
    kind: "directory",
    descriptors,
    async blobSize(digest) {
      const info = await stat(fileOf(digest)).catch(() => undefined);
      return info?.isFile() ? info.size : undefined;
    },
    async readBlob(digest) {
      const bytes = await readSmall(fileOf(digest));
      if (bytes === undefined) throw new BundleError(`${path}: holds no blob ${digest}`);
      return bytes;
    },
    openBlob: (digest) => createReadStream(fileOf(digest)),
  };
}

async function openArchive(path: string): Promise<LayoutSource> {
  const handle = await open(path, "r");
  let members: Map<string, TarMember>;
  const readMember = async (member: TarMember | undefined, name: string): Promise<Buffer | undefined> => {
    if (member === undefined) return undefined;
    if (member.size > LAYOUT_JSON_LIMIT)
      throw new BundleError(`${path}: ${name} is larger than ${LAYOUT_JSON_LIMIT} bytes`);
    const bytes = Buffer.alloc(member.size);
    await handle.read(bytes, 0, member.size, member.offset);
    return bytes;
  };
  let descriptors: readonly LayoutDescriptor[];
  try {
    members = await indexTar(handle, path).catch((error: unknown) => {
      throw new BundleError(`${path}: not a tar file (${(error as Error).message})`);
    });
    const layout = await readMember(members.get(LAYOUT_FILE), LAYOUT_FILE);
    const index = await readMember(members.get(INDEX_FILE), INDEX_FILE);
    descriptors = checkLayout(path, {
      ...(layout ? { layout } : {}),
      ...(index ? { index } : {}),
      dockerManifest: members.has(DOCKER_MANIFEST_FILE),
    });
  } finally {
    await handle.close();
  }
  const memberOf = (digest: string): TarMember | undefined => members.get(blobPath(digest));
  return {
    path,
    kind: "archive",
    descriptors,
    blobSize: (digest) => Promise.resolve(memberOf(digest)?.size),
    async readBlob(digest) {
      const member = memberOf(digest);
      if (member === undefined) throw new BundleError(`${path}: holds no blob ${digest}`);
      if (member.size > LAYOUT_JSON_LIMIT)
        throw new BundleError(`${path}: ${digest} is larger than ${LAYOUT_JSON_LIMIT} bytes`);
      const file = await open(path, "r");
      try {
        const bytes = Buffer.alloc(member.size);
        await file.read(bytes, 0, member.size, member.offset);
        return bytes;
      } finally {
        await file.close();
      }
    },
    openBlob(digest) {
      const member = memberOf(digest);
      if (member === undefined) throw new BundleError(`${path}: holds no blob ${digest}`);
      // An empty range would read to the end of the file.
      return member.size === 0
        ? Readable.from([])
        : createReadStream(path, { start: member.offset, end: member.offset + member.size - 1 });
    },
  };
}
