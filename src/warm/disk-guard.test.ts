import { statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { createDiskGuard, imageFilesystemOf, imageFilesystemUse, MOUNTPOINT_TTL_MS } from "./disk-guard.ts";

describe("createDiskGuard on real filesystems", () => {
  it("blocks a pull that would cross the threshold and allows one that would not", async () => {
    const stats = await statfs(tmpdir());
    const used = 1 - stats.bavail / stats.blocks;
    const guard = (threshold: number) =>
      createDiskGuard({ mountpoint: () => Promise.resolve(tmpdir()), threshold });
    const admitted = await guard(Math.min(1, used + 0.05)).admit({ compressed: 0 });
    expect(admitted.ok).toBe(true);
    if (admitted.ok) expect(await admitted.ticket.finish()).toBeUndefined();
    const blocked = await guard(Math.max(0.0001, used - 0.01)).admit({ compressed: 1024 });
    expect(blocked.ok).toBe(false);
    if (!blocked.ok) expect(blocked.message).toContain("1024 bytes");
    const huge = await guard(1).admit({ compressed: stats.blocks * stats.bsize });
    expect(huge.ok).toBe(false);
  });

  it("reserves what admitted pulls will write until they finish", async () => {
    const stats = await statfs(tmpdir());
    const capacity = stats.blocks * stats.bsize;
    const used = capacity - stats.bavail * stats.bsize;
    // Room for one pull of this size (with unpacking) under the threshold, not for two.
    const free = capacity * 0.99 - used;
    const compressed = Math.floor(free / 4 / 1.5);
    const guard = createDiskGuard({ mountpoint: () => Promise.resolve(tmpdir()), threshold: 0.99 });
    const first = await guard.admit({ compressed });
    expect(first.ok).toBe(true);
    const second = await guard.admit({ compressed });
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.message).toContain("1 pull(s) in flight");
    if (first.ok) await first.ticket.finish();
    const third = await guard.admit({ compressed });
    expect(third.ok).toBe(true);
    if (third.ok) await third.ticket.finish();
  });

  it("lets pulls through, and says so once, when the filesystem is not visible in this container", async () => {
    const warnings: string[] = [];
    const guard = createDiskGuard({
      mountpoint: () =>
        Promise.resolve("/var/lib/containerd-not-mounted-here/io.containerd.snapshotter.v1.overlayfs"),
      threshold: 0.8,
      onUnavailable: (message) => warnings.push(message),
    });
    const first = await guard.admit({ compressed: 10 });
    await guard.admit({ compressed: 10 });
    expect(first.ok).toBe(true);
    if (first.ok) expect(await first.ticket.finish()).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("not visible here (ENOENT)");
  });
});

describe("imageFilesystemOf", () => {
  it("asks the runtime once per interval, not before every pull, and again after a failed answer", async () => {
    let calls = 0;
    let answer: string | undefined = "/var/lib/containerd";
    const runtime = {
      imageFsInfo: () => {
        calls += 1;
        return Promise.resolve(answer === undefined ? [] : [{ mountpoint: answer, usedBytes: undefined }]);
      },
    };
    let clock = 0;
    const mountpoint = imageFilesystemOf(runtime, undefined, () => clock);
    expect(await mountpoint()).toBe("/var/lib/containerd");
    expect(await mountpoint()).toBe("/var/lib/containerd");
    expect(calls).toBe(1);
    clock += MOUNTPOINT_TTL_MS;
    answer = undefined;
    await expect(mountpoint()).rejects.toThrow(/no image filesystem/);
    answer = "/data/containerd";
    expect(await mountpoint()).toBe("/data/containerd");
    expect(calls).toBe(3);
    expect(await imageFilesystemOf(runtime, "/mnt/images")()).toBe("/mnt/images");
    expect(calls).toBe(3);
  });
});

describe("imageFilesystemUse", () => {
  it("reads the share in use as the guard does, none where the filesystem is not visible, and keeps the last reading while the runtime cannot say where it is", async () => {
    let where: string | Error = tmpdir();
    const use = imageFilesystemUse(() =>
      where instanceof Error ? Promise.reject(where) : Promise.resolve(where),
    );
    const stats = await statfs(tmpdir());
    const ratio = await use();
    expect(ratio).toBeCloseTo(1 - stats.bavail / stats.blocks, 2);
    where = new Error("the runtime is down");
    expect(await use()).toBe(ratio);
    where = "/var/lib/containerd-not-mounted-here";
    expect(await use()).toBeUndefined();
    where = new Error("the runtime is down");
    expect(await use()).toBeUndefined();
  });
});
