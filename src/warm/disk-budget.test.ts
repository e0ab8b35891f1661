import { describe, expect, it } from "vitest";
import {
  formatBytes,
  judgePull,
  ObservedSizes,
  predictedPullBytes,
  Reservations,
  UNPACK_EXPANSION_FACTOR,
  usedRatio,
} from "./disk-budget.ts";

const MB = 1_000_000;
const disk = { capacityBytes: 100 * MB, usedBytes: 2 * MB };

describe("predictedPullBytes", () => {
  it("budgets the compressed blobs plus their unpacked layers", () => {
    expect(predictedPullBytes({ compressed: 10 * MB })).toBe(10 * MB * (1 + UNPACK_EXPANSION_FACTOR));
    expect(predictedPullBytes({ compressed: 10 * MB, uncompressed: 95 * MB })).toBe(105 * MB);
    expect(predictedPullBytes({ compressed: undefined, uncompressed: 7 })).toBe(7);
    expect(predictedPullBytes({ compressed: undefined })).toBeUndefined();
  });

  it("budgets only the layers whose unpacked size is unknown with the factor", () => {
    // 10 MB downloaded: 8 MB of layers that unpack to 90 MB, 2 MB whose unpacked size is unknown.
    expect(predictedPullBytes({ compressed: 10 * MB, uncompressed: 90 * MB, unsized: 2 * MB })).toBe(
      10 * MB + 90 * MB + 2 * MB * UNPACK_EXPANSION_FACTOR,
    );
    expect(predictedPullBytes({ compressed: 10 * MB, uncompressed: 90 * MB, unsized: 0 })).toBe(100 * MB);
    // Without a known unpacked size, `unsized` adds nothing: every layer already takes the factor.
    expect(predictedPullBytes({ compressed: 10 * MB, unsized: 10 * MB })).toBe(40 * MB);
  });

  it("trusts what a stopped pull already wrote when that is more", () => {
    expect(predictedPullBytes({ compressed: 100_000, observed: 80 * MB })).toBe(80 * MB);
    expect(predictedPullBytes({ compressed: 10 * MB, observed: 1 * MB })).toBe(40 * MB);
    expect(predictedPullBytes({ compressed: undefined, observed: 5 })).toBe(5);
  });
});

describe("ObservedSizes", () => {
  it("keeps the largest observation per image and forgets the oldest beyond its limit", () => {
    const observed = new ObservedSizes(2);
    observed.record("a", 10);
    observed.record("a", 5);
    expect(observed.get("a")).toBe(10);
    observed.record("b", 1);
    observed.record("a", 11);
    observed.record("c", 2);
    expect(observed.get("b")).toBeUndefined();
    expect(observed.get("a")).toBe(11);
    expect(observed.get("c")).toBe(2);
  });
});

describe("judgePull with reservations", () => {
  it("lets two pulls through alone but not together", () => {
    const reservations = new Reservations();
    const pullBytes = predictedPullBytes({ compressed: 10 * MB }) ?? 0; // 40 MB
    const first = judgePull({
      sample: disk,
      reservedBytes: reservations.totalBytes,
      pullBytes,
      threshold: 0.8,
    });
    expect(first).toEqual({ ok: true, predictedRatio: 0.42, fitsAlone: true, roomBytes: 78 * MB });
    const ticket = reservations.reserve(pullBytes);
    const second = judgePull({
      sample: disk,
      reservedBytes: reservations.totalBytes,
      pullBytes,
      threshold: 0.8,
    });
    // Waiting helps: it fits once the first ends.
    expect(second).toEqual({ ok: false, predictedRatio: 0.82, fitsAlone: true, roomBytes: 78 * MB });
    reservations.release(ticket);
    expect(
      judgePull({ sample: disk, reservedBytes: reservations.totalBytes, pullBytes, threshold: 0.8 }).ok,
    ).toBe(true);
  });

  it("sums every reservation, counts unknown sizes as pulls of nothing, and releases each ticket once", () => {
    const reservations = new Reservations();
    const a = reservations.reserve(30 * MB);
    const b = reservations.reserve(undefined);
    const c = reservations.reserve(20 * MB);
    expect(reservations.totalBytes).toBe(50 * MB);
    expect(reservations.count).toBe(3);
    reservations.release(a);
    reservations.release(a);
    expect(reservations.totalBytes).toBe(20 * MB);
    reservations.release(b);
    reservations.release(c);
    expect(reservations.count).toBe(0);
    expect(reservations.totalBytes).toBe(0);
  });

  it("judges a pull of unknown size on the use now plus what is reserved", () => {
    expect(
      judgePull({ sample: disk, reservedBytes: 77 * MB, pullBytes: undefined, threshold: 0.8 }),
    ).toMatchObject({ ok: true, predictedRatio: 0.79 });
    expect(judgePull({ sample: disk, reservedBytes: 78 * MB, pullBytes: undefined, threshold: 0.8 }).ok).toBe(
      false,
    );
  });

  it("tells a pull that cannot fit even alone from one that waits for the pulls in flight", () => {
    const tooBig = judgePull({ sample: disk, reservedBytes: 0, pullBytes: 78 * MB, threshold: 0.8 });
    expect(tooBig).toEqual({ ok: false, predictedRatio: 0.8, fitsAlone: false, roomBytes: 78 * MB });
    const withOthers = judgePull({
      sample: disk,
      reservedBytes: 30 * MB,
      pullBytes: 78 * MB,
      threshold: 0.8,
    });
    expect(withOthers).toMatchObject({ ok: false, fitsAlone: false });
    // Past the threshold already: no room at all.
    const full = judgePull({
      sample: { capacityBytes: 100 * MB, usedBytes: 90 * MB },
      reservedBytes: 0,
      pullBytes: 1,
      threshold: 0.8,
    });
    expect(full).toMatchObject({ ok: false, fitsAlone: false, roomBytes: 0 });
  });

  it("treats a filesystem without capacity as full", () => {
    expect(usedRatio({ capacityBytes: 0, usedBytes: 0 })).toBe(1);
    expect(
      judgePull({
        sample: { capacityBytes: 0, usedBytes: 0 },
        reservedBytes: 0,
        pullBytes: 0,
        threshold: 0.8,
      }).ok,
    ).toBe(false);
  });
});

describe("formatBytes", () => {
  it("writes bytes, KiB and MiB for messages", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(1024)).toBe("1.0 KiB");
    expect(formatBytes(95 * 1024 * 1024 + 512 * 1024)).toBe("95.5 MiB");
  });
});
