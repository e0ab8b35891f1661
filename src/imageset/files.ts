import { readdir, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import { ImageSetError } from "./imageset.ts";
import { DEFAULT_LIMITS, formatBytes, type ImageSetLimits } from "./limits.ts";
import { fileProblem } from "./bounded-file.ts";

const SET_FILE = /\.(ya?ml|json)$/;

/** One ImageSet file as it is now, without reading it. */
export interface ListedFile {
  readonly file: string;
  /**
   * Changes whenever the content may have: device, inode, size, modification and change times
   * (to the nanosecond), and for a ConfigMap the `..data` link kubelet swaps on every update.
   */
  readonly version: string;
  readonly size: number;
}

async function statOf(path: string) {
  try {
    return await stat(path, { bigint: true });
  } catch (error) {
    throw new ImageSetError(path, fileProblem(error));
  }
}

function versionOf(info: Awaited<ReturnType<typeof statOf>>, volume: string): string {
  return [info.dev, info.ino, info.size, info.mtimeNs, info.ctimeNs, volume].join(":");
}

/** Where a ConfigMap volume's `..data` points, or "" for an ordinary directory. */
async function volumeVersion(dir: string): Promise<string> {
  try {
    return await readlink(join(dir, "..data"));
  } catch {
    return "";
  }
}

function checkCount(listed: readonly ListedFile[], paths: readonly string[], limit: number): void {
  if (listed.length > limit) {
    throw new ImageSetError(paths.join(", "), `more than ${limit} ImageSet files, the limit of one load`);
  }
}

/** Times a directory is listed again when its `..data` moved while its files were statted. */
const SWAP_RETRIES = 3;

/**
 * The set files directly in `dir`. Their versions carry the volume's `..data` target, read before
 * and after the stats: when kubelet swapped it in between, the listing is made again, so a
 * version never pairs one swap's target with the other's files (that would parse twice).
 */
async function listDirectory(dir: string, limit: number): Promise<ListedFile[]> {
  for (let attempt = 1; ; attempt += 1) {
    const volume = await volumeVersion(dir);
    // Dot entries are ConfigMap plumbing (`..data`, `..2026_…`); the keys link through them.
    const names = (await readdir(dir)).filter((name) => !name.startsWith(".") && SET_FILE.test(name)).sort();
    const listed: ListedFile[] = [];
    for (const name of names) {
      const file = join(dir, name);
      let entry;
      try {
        entry = await stat(file, { bigint: true });
      } catch (error) {
        // A key removed from a ConfigMap dangles for a moment while kubelet swaps `..data`.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw new ImageSetError(file, fileProblem(error));
      }
      if (entry.isDirectory()) continue;
      listed.push({ file, version: versionOf(entry, volume), size: Number(entry.size) });
      // One over the limit is enough for the caller to refuse the load.
      if (listed.length > limit) return listed;
    }
    if (attempt === SWAP_RETRIES || (await volumeVersion(dir)) === volume) return listed;
  }
}

/**
 * Every ImageSet file `paths` name (a file itself, or the set files directly in a directory),
 * with a version string for each: a few stats per poll, so unchanged sets cost no reading.
 */
export async function listImageSetFiles(
  paths: readonly string[],
  limits: Pick<ImageSetLimits, "files" | "totalBytes"> = DEFAULT_LIMITS,
): Promise<ListedFile[]> {
  const listed: ListedFile[] = [];
  for (const path of paths) {
    const info = await statOf(path);
    if (!info.isDirectory()) {
      listed.push({ file: path, version: versionOf(info, ""), size: Number(info.size) });
      checkCount(listed, paths, limits.files);
      continue;
    }
    listed.push(...(await listDirectory(path, limits.files - listed.length)));
    checkCount(listed, paths, limits.files);
  }
  const total = listed.reduce((sum, file) => sum + file.size, 0);
  if (total > limits.totalBytes) {
    throw new ImageSetError(
      paths.join(", "),
      `ImageSet files hold ${total} bytes together, over the ${formatBytes(limits.totalBytes)} limit`,
    );
  }
  return listed;
}
