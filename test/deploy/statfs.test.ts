import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, statfs, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

// The disk-guard component mounts an empty directory inside the runtime's root instead of the
// root itself. Here that mount is made as kubelet makes it (a read-only bind mount of the host
// directory) to show what the agent then sees: the filesystem's numbers, and nothing else.
let root: string;
let mounted: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "prepull-runtime-root-"));
  await mkdir(join(root, "io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs"), { recursive: true });
  await writeFile(join(root, "io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs/secret"), "layer data");
  await mkdir(join(root, "prepull-statfs"));
  mounted = await mkdtemp(join(tmpdir(), "prepull-image-fs-"));
  await run("mount", ["--bind", join(root, "prepull-statfs"), mounted]);
  await run("mount", ["-o", "remount,bind,ro", mounted]);
});

afterAll(async () => {
  await run("umount", [mounted]).catch(() => undefined);
  await Promise.all([
    rm(mounted, { recursive: true, force: true }),
    rm(root, { recursive: true, force: true }),
  ]);
});

describe("the disk guard's mount", () => {
  it("gives statfs the image filesystem's own numbers", async () => {
    const [direct, throughMount] = await Promise.all([statfs(root), statfs(mounted)]);
    expect(throughMount.type).toBe(direct.type);
    expect(throughMount.bsize).toBe(direct.bsize);
    expect(throughMount.blocks).toBe(direct.blocks);
    // Free space moves with whatever else writes to this filesystem meanwhile; it is the same one.
    expect(Math.abs(throughMount.bavail - direct.bavail)).toBeLessThan(direct.blocks / 100);
  });

  it("shows no layer and takes no write", async () => {
    expect(await readdir(mounted)).toEqual([]);
    await expect(writeFile(join(mounted, "x"), "x")).rejects.toMatchObject({ code: "EROFS" });
  });
});
