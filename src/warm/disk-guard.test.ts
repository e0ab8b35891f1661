import { statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { createDiskGuard } from "./disk-guard.ts";

describe("createDiskGuard on real filesystems", () => {
  it("blocks a pull that would cross the threshold and allows one that would not", async () => {
    const stats = await statfs(tmpdir());
    const used = 1 - stats.bavail / stats.blocks;
    const guard = (threshold: number) =>
      createDiskGuard({ mountpoint: () => Promise.resolve(tmpdir()), threshold });
    expect((await guard(Math.min(1, used + 0.05)).check(0)).ok).toBe(true);
    const blocked = await guard(Math.max(0.0001, used - 0.01)).check(1024);
    expect(blocked.ok).toBe(false);
    expect(blocked.message).toContain("1024 bytes");
    const huge = await guard(1).check(stats.blocks * stats.bsize);
    expect(huge.ok).toBe(false);
  });

  it("lets pulls through, and says so once, when the filesystem is not visible in this container", async () => {
    const warnings: string[] = [];
    const guard = createDiskGuard({
      mountpoint: () =>
        Promise.resolve("/var/lib/containerd-not-mounted-here/io.containerd.snapshotter.v1.overlayfs"),
      threshold: 0.8,
      onUnavailable: (message) => warnings.push(message),
    });
    const first = await guard.check(10);
    await guard.check(10);
    expect(first).toMatchObject({ ok: true, predictedRatio: undefined });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("not visible here (ENOENT)");
  });
});
