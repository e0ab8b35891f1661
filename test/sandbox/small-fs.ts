import { execFile } from "node:child_process";
import { mkdtemp, rmdir, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SmallFilesystem {
  readonly dir: string;
  /** Share of the filesystem in use, as the disk guard's statfs sees it. */
  usedRatio(): Promise<number>;
  remove(): Promise<void>;
}

/** A real tmpfs of `sizeMb`, for a runtime root that fills up (needs root, like containerd). */
export async function mountSmallFilesystem(sizeMb: number): Promise<SmallFilesystem> {
  const dir = await mkdtemp(join(tmpdir(), "prepull-small-fs-"));
  await run("mount", ["-t", "tmpfs", "-o", `size=${String(sizeMb)}m`, "tmpfs", dir]);
  return {
    dir,
    async usedRatio() {
      const stats = await statfs(dir);
      return 1 - stats.bavail / stats.blocks;
    },
    async remove() {
      await run("umount", [dir]);
      await rmdir(dir);
    },
  };
}
