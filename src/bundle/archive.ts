import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pack as tarPack, type Header, type Pack } from "tar-stream";
import { ClassifiedError, isClassifiedError } from "../failure/index.ts";
import { blobPath, INDEX_FILE, LAYOUT_FILE } from "./layout.ts";

/** Fixed owner, mode and time: the same layout always makes the same archive. */
const FIXED = { uid: 0, gid: 0, uname: "", gname: "", mtime: new Date(0) } as const;

function addFile(
  pack: Pack,
  name: string,
  path: string,
  size: number,
  onBytes: (bytes: number) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const entry = pack.entry({ ...FIXED, name, size, mode: 0o644, type: "file" }, (error) => {
      if (error) reject(error);
      else resolve();
    });
    void (async () => {
      try {
        for await (const chunk of createReadStream(path)) {
          onBytes((chunk as Buffer).length);
          if (!entry.write(chunk as Buffer)) await once(entry, "drain");
        }
        entry.end(null);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        entry.destroy(failure);
        reject(failure);
      }
    })();
  });
}

function addDirectory(pack: Pack, name: string): void {
  const header: Partial<Header> & { name: string } = { ...FIXED, name, mode: 0o755, type: "directory" };
  pack.entry(header);
}

/**
 * Writes the layout at `dir` as one tar file at `path` (`oci-layout`, `index.json`, then the
 * blobs `digests` names, each streamed from disk): what `ctr images import` and skopeo's
 * `oci-archive:` read. Written to `path.tmp` and renamed, so `path` is whole or absent.
 * `onBytes` is told each chunk of a file's content as it goes in: progress.
 */
export async function writeArchive(
  dir: string,
  path: string,
  digests: readonly string[],
  onBytes: (bytes: number) => void = () => undefined,
): Promise<void> {
  const temporary = `${path}.tmp`;
  const pack = tarPack();
  const out = createWriteStream(temporary);
  const writing = pipeline(Readable.from(pack), out);
  try {
    const adding = (async () => {
      for (const name of [LAYOUT_FILE, INDEX_FILE]) {
        const file = join(dir, name);
        await addFile(pack, name, file, (await stat(file)).size, onBytes);
      }
      addDirectory(pack, "blobs/");
      addDirectory(pack, "blobs/sha256/");
      for (const digest of [...new Set(digests)].sort()) {
        const file = join(dir, blobPath(digest));
        await addFile(pack, blobPath(digest), file, (await stat(file)).size, onBytes);
      }
      pack.finalize();
    })();
    await Promise.all([adding, writing]);
    await rename(temporary, path);
  } catch (error) {
    pack.destroy();
    out.destroy();
    await rm(temporary, { force: true });
    if (isClassifiedError(error)) throw error;
    const code = (error as NodeJS.ErrnoException | null)?.code;
    throw new ClassifiedError(
      "disk",
      `${path}: ${code === "ENOSPC" || code === "EDQUOT" ? "no space left on the device" : (code ?? String(error))}`,
      { cause: error },
    );
  }
}
