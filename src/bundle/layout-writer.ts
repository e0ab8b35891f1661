import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { ClassifiedError, InputError, isClassifiedError } from "../failure/index.ts";
import {
  blobPath,
  INDEX_FILE,
  INDEX_MEDIA_TYPE,
  LAYOUT_FILE,
  LAYOUT_JSON_LIMIT,
  LAYOUT_VERSION,
  layoutIndexSchema,
  type LayoutDescriptor,
} from "./layout.ts";
import type { BlobDescriptor } from "./plan.ts";

/** Files being written start with this; a run starts by removing those a killed run left. */
const PARTIAL_PREFIX = ".partial-";

function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A file system failure while writing: a full disk is `disk`, anything else names the path. */
function writeFailure(path: string, error: unknown): ClassifiedError {
  if (isClassifiedError(error)) return error;
  const code = errnoOf(error) ?? (error instanceof Error ? error.message : "write failed");
  const full = code === "ENOSPC" || code === "EDQUOT";
  return new ClassifiedError("disk", `${path}: ${full ? "no space left on the device" : code}`, {
    cause: error,
  });
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/** Writes `text` beside `path` and renames it over: readers see the old file or the new, whole. */
async function writeAtomically(path: string, text: string | Buffer): Promise<void> {
  const temporary = join(dirname(path), `${PARTIAL_PREFIX}${randomBytes(6).toString("hex")}`);
  try {
    await writeFile(temporary, text, { flag: "wx" });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw writeFailure(path, error);
  }
}

/**
 * An OCI image layout on disk, written so that every file under `blobs/` is what its name says:
 * each blob goes to a partial file first and is renamed into `blobs/sha256/<hex>` only once its
 * size (and, by the caller's fetch, its digest) is verified. A blob already there is trusted only
 * after it is hashed again, so a second run fetches only what is missing or damaged.
 * One run at a time per directory.
 */
export class LayoutWriter {
  readonly dir: string;
  readonly #blobDir: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.#blobDir = join(dir, "blobs", "sha256");
  }

  /** Creates the layout, or reopens one a previous run wrote; refuses any other non-empty directory. */
  static async open(dir: string): Promise<LayoutWriter> {
    const existing = await readdir(dir).catch((error: unknown) => {
      const code = errnoOf(error);
      if (code === "ENOENT") return [] as string[];
      if (code === "ENOTDIR") throw new InputError(`${dir}: exists and is not a directory`, { source: dir });
      throw new InputError(`${dir}: cannot read (${code ?? "error"})`, { source: dir });
    });
    if (existing.length > 0 && !existing.includes(LAYOUT_FILE)) {
      throw new InputError(
        `${dir}: exists and is not an OCI layout (no ${LAYOUT_FILE}); give a new or empty directory`,
        { source: dir },
      );
    }
    const writer = new LayoutWriter(dir);
    try {
      await mkdir(writer.#blobDir, { recursive: true });
    } catch (error) {
      throw new InputError(`${dir}: cannot create (${errnoOf(error) ?? "error"})`, { source: dir });
    }
    for (const folder of [dir, writer.#blobDir]) {
      for (const name of await readdir(folder)) {
        if (name.startsWith(PARTIAL_PREFIX)) await rm(join(folder, name), { force: true });
      }
    }
    const layout = `${JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })}\n`;
    const current = await readFile(join(dir, LAYOUT_FILE), "utf8").catch(() => undefined);
    if (current !== layout) await writeAtomically(join(dir, LAYOUT_FILE), layout);
    return writer;
  }

  pathOf(digest: string): string {
    return join(this.dir, blobPath(digest));
  }

  /** Whether the blob is there, whole and the right one; a wrong or truncated file is removed. */
  async has(blob: BlobDescriptor): Promise<boolean> {
    const path = this.pathOf(blob.digest);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) return false;
    if (info.isFile() && info.size === blob.size && (await sha256File(path)) === blob.digest) return true;
    await rm(path, { force: true, recursive: true });
    return false;
  }

  /**
   * A small blob (a manifest or index) a previous run stored, read whole and verified; undefined
   * when it is absent, too big to be one, or wrong (then it is removed).
   */
  async readSmall(blob: { digest: string; size?: number | undefined }): Promise<Buffer | undefined> {
    const path = this.pathOf(blob.digest);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) return undefined;
    const fits = info.isFile() && info.size <= LAYOUT_JSON_LIMIT;
    if (fits && (blob.size === undefined || info.size === blob.size)) {
      const bytes = await readFile(path);
      if (`sha256:${createHash("sha256").update(bytes).digest("hex")}` === blob.digest) return bytes;
    }
    await rm(path, { force: true, recursive: true });
    return undefined;
  }

  /** Stores a blob held in memory (a manifest or index), verified against its descriptor. */
  async putBytes(blob: BlobDescriptor, bytes: Buffer): Promise<void> {
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (digest !== blob.digest || bytes.length !== blob.size) {
      throw new ClassifiedError(
        "invalid",
        `${blob.digest}: the bytes to store are ${digest}, ${bytes.length} bytes`,
      );
    }
    await writeAtomically(this.pathOf(blob.digest), bytes);
  }

  /**
   * Stores a blob that `fill` streams into the sink it is given (and verifies: the registry
   * client's fetchBlob). The file is renamed into place only when `fill` succeeded and the size
   * is right; otherwise it is removed.
   */
  async putStream(blob: BlobDescriptor, fill: (sink: Writable) => Promise<void>): Promise<void> {
    const path = this.pathOf(blob.digest);
    const temporary = join(this.#blobDir, `${PARTIAL_PREFIX}${randomBytes(6).toString("hex")}`);
    const sink = createWriteStream(temporary, { flags: "wx" });
    try {
      try {
        await fill(sink);
        if (!sink.closed) await finished(sink);
      } catch (error) {
        // The sink's own failure (a full disk) is named by its path; the rest is the fetch's.
        throw sink.errored === error ? writeFailure(path, error) : error;
      }
      const written = (await stat(temporary)).size;
      if (written !== blob.size) {
        throw new ClassifiedError("invalid", `${blob.digest}: wrote ${written} bytes, not ${blob.size}`);
      }
      await rename(temporary, path).catch((error: unknown) => {
        throw writeFailure(path, error);
      });
    } catch (error) {
      sink.destroy();
      await rm(temporary, { force: true });
      throw error;
    }
  }

  /** index.json naming exactly these manifests, replaced whole. */
  async writeIndex(manifests: readonly LayoutDescriptor[]): Promise<void> {
    const index = layoutIndexSchema.parse({
      schemaVersion: 2,
      mediaType: INDEX_MEDIA_TYPE,
      manifests,
    });
    await writeAtomically(join(this.dir, INDEX_FILE), `${JSON.stringify(index)}\n`);
  }
}
