import { statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import type { FilesystemSample, ImageSize } from "./disk-budget.ts";
import {
  createDiskGuard,
  imageFilesystemOf,
  imageFilesystemUse,
  MOUNTPOINT_TTL_MS,
  type DiskAdmission,
  type DiskGuard,
  type DiskTicket,
} from "./disk-guard.ts";

const MiB = 1024 * 1024;

/** A filesystem of 100 MiB whose use the test sets, read as the guard reads statfs. */
function fakeFilesystem(usedMiB: number) {
  const disk = { usedBytes: usedMiB * MiB, reads: 0 };
  const read = (): Promise<FilesystemSample> => {
    disk.reads += 1;
    return Promise.resolve({ capacityBytes: 100 * MiB, usedBytes: disk.usedBytes });
  };
  const guard = createDiskGuard({
    mountpoint: () => Promise.resolve("/images"),
    threshold: 0.8,
    read,
    settle: { intervalMs: 5, quietMs: 40, limitMs: 2_000 },
  });
  return { disk, guard };
}

function ticketOf(admission: DiskAdmission): DiskTicket {
  if (!admission.ok) throw new Error(`refused: ${admission.message}`);
  return admission.ticket;
}

/** Whether the guard admits a pull of `size` now; an admitted pull ends at once. */
async function admitsNow(guard: DiskGuard, size: ImageSize): Promise<boolean> {
  const admission = await guard.admit(size);
  if (admission.ok) await admission.ticket.finish();
  return admission.ok;
}

function refusalOf(admission: DiskAdmission): string {
  if (admission.ok) throw new Error("admitted");
  return admission.message;
}

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
    if (!blocked.ok) expect(blocked.message).toContain("1.0 KiB to download");
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

describe("createDiskGuard's judgement, on a filesystem the test sets", () => {
  it("refuses an image that cannot fit even alone before it is pulled, saying what it needs and what room there is", async () => {
    const { guard } = fakeFilesystem(10);
    const message = refusalOf(
      await guard.admit({ compressed: 1 * MiB, uncompressed: 90 * MiB, unsized: 0 }, "big"),
    );
    expect(message).toBe(
      "image filesystem /images would be 101.0% full after this pull, above the 80.0% limit: " +
        "the pull needs 91.0 MiB (1.0 MiB to download, 90.0 MiB unpacked) and there is room for 70.0 MiB under the limit",
    );
  });

  it("says when a pull waits for the pulls in flight, and when it would not fit without them either", async () => {
    const { guard } = fakeFilesystem(10);
    const first = ticketOf(await guard.admit({ compressed: 2 * MiB, uncompressed: 38 * MiB }, "a"));
    const waits = refusalOf(await guard.admit({ compressed: 2 * MiB, uncompressed: 38 * MiB }, "b"));
    expect(waits).toContain("would be 90.0% full after this pull with 1 pull(s) in flight");
    expect(waits).toContain(
      "the pull needs 40.0 MiB (2.0 MiB to download, 38.0 MiB unpacked); there is room for 70.0 MiB under the limit, and the pulls in flight have reserved 40.0 MiB",
    );
    const never = refusalOf(
      await guard.admit({ compressed: 2 * MiB, uncompressed: 78 * MiB, unsized: 1 * MiB }),
    );
    expect(never).toContain("83.0 MiB (2.0 MiB to download, 81.0 MiB unpacked, in part estimated at 3×)");
    expect(never).toContain("it does not fit even without the pulls in flight");
    await first.finish();
  });

  it("refuses a pull of unknown size only where the filesystem is past the limit already", async () => {
    const { disk, guard } = fakeFilesystem(70);
    await ticketOf(await guard.admit({ compressed: undefined })).finish();
    disk.usedBytes = 85 * MiB;
    expect(refusalOf(await guard.admit({ compressed: undefined }))).toBe(
      "image filesystem /images would be 85.0% full after this pull, above the 80.0% limit: its size is unknown and there is room for 0 bytes under the limit",
    );
  });

  it("holds the reservation of a pull that did not complete until the filesystem stops growing", async () => {
    const { disk, guard } = fakeFilesystem(10);
    const stopped = ticketOf(await guard.admit({ compressed: 1 * MiB, uncompressed: 40 * MiB }, "a"));
    // The runtime is still unpacking the layer it was on when the pull was cancelled.
    let writes = 0;
    const writing = setInterval(() => {
      writes += 1;
      disk.usedBytes = Math.min(disk.usedBytes + 4 * MiB, 41 * MiB);
    }, 5);
    // The caller is not held up: the reservation is held in the background.
    expect(await stopped.finish({ complete: false })).toBeUndefined();
    await expect.poll(() => writes).toBeGreaterThan(2);
    const meanwhile = refusalOf(await guard.admit({ compressed: 1 * MiB, uncompressed: 24 * MiB }, "b"));
    expect(meanwhile).toContain("1 pull(s) in flight");
    // 41 MiB used + 25 MiB: it fits once the runtime has stopped writing.
    await expect.poll(() => admitsNow(guard, { compressed: 1 * MiB, uncompressed: 24 * MiB })).toBe(true);
    clearInterval(writing);
    expect(disk.usedBytes).toBe(41 * MiB);
  });

  it("releases at once a pull that did not complete and wrote nothing", async () => {
    const guard = createDiskGuard({
      mountpoint: () => Promise.resolve("/images"),
      threshold: 0.8,
      read: () => Promise.resolve({ capacityBytes: 100 * MiB, usedBytes: 10 * MiB }),
      settle: { intervalMs: 5, quietMs: 10_000, limitMs: 20_000 },
    });
    const size = { compressed: 1 * MiB, uncompressed: 60 * MiB };
    const failed = ticketOf(await guard.admit(size, "a"));
    expect(await failed.finish({ complete: false })).toBeUndefined();
    await expect.poll(() => admitsNow(guard, size), { timeout: 1_000 }).toBe(true);
  });

  it("learns what a pull stopped alone wrote, and nothing from pulls stopped together", async () => {
    const together = fakeFilesystem(10);
    const a = ticketOf(await together.guard.admit({ compressed: 1 * MiB }, "a"));
    const b = ticketOf(await together.guard.admit({ compressed: 1 * MiB }, "b"));
    together.disk.usedBytes = 85 * MiB;
    await expect.poll(() => a.signal.aborted && b.signal.aborted).toBe(true);
    expect(await a.finish()).toContain("reached 85.0% while pulling");
    expect(await b.finish()).toContain("reached 85.0% while pulling");
    together.disk.usedBytes = 10 * MiB;
    // The last of the two to finish is not credited with both pulls' writes.
    await ticketOf(await together.guard.admit({ compressed: 1 * MiB }, "b")).finish();

    const alone = fakeFilesystem(10);
    const c = ticketOf(await alone.guard.admit({ compressed: 1 * MiB }, "c"));
    alone.disk.usedBytes = 85 * MiB;
    await expect.poll(() => c.signal.aborted).toBe(true);
    await c.finish();
    alone.disk.usedBytes = 10 * MiB;
    const again = refusalOf(await alone.guard.admit({ compressed: 1 * MiB }, "c"));
    expect(again).toContain("the pull needs 75.0 MiB (as its last pull showed)");
  });
});
