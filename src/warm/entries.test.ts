import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseReference } from "../reference/index.ts";
import { DEFAULT_RETRY } from "./backoff.ts";
import { EntryBook, entryKey } from "./entries.ts";
import type { EntryResult } from "./execute.ts";
import type { WarmTarget } from "./plan.ts";
import { ENTRY_STATES } from "./state.ts";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const START = Date.parse("2026-01-01T00:00:00Z");

function target(image: string, digest?: string): WarmTarget {
  const reference = parseReference(image);
  return { image, reference, digest: digest ?? reference.digest };
}

function result(image: string, fields: Partial<EntryResult>): EntryResult {
  return {
    image,
    outcome: "failed",
    digest: undefined,
    imageId: undefined,
    size: undefined,
    seconds: 1.5,
    pulls: [image],
    errorKind: undefined,
    message: undefined,
    registryDigest: undefined,
    source: undefined,
    ...fields,
  };
}

/** Jitter pinned to the top of the range: attempt n waits exactly min(max, initial × 2^(n-1)). */
const book = (): EntryBook => new EntryBook({ random: () => 1 });

describe("EntryBook", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(START);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("moves an entry from pending through pulling to present, resetting attempts", () => {
    const entries = book();
    const api = target("reg.example/api:v1", D1);
    entries.replace([api]);
    const key = entryKey(api);
    expect(entries.get(key)?.status.state).toBe("pending");
    entries.apply(key, { type: "pulling" });
    entries.apply(key, {
      type: "finished",
      result: result(api.image, { outcome: "failed", errorKind: "network" }),
    });
    expect(entries.get(key)?.status.attempts).toBe(1);
    entries.apply(key, { type: "queued", tagOnly: false });
    expect(entries.get(key)?.status.state).toBe("pending");
    const pulled = entries.apply(key, {
      type: "finished",
      result: result(api.image, { outcome: "pulled", digest: D1, imageId: "sha256:c", size: 42 }),
    });
    expect(pulled?.status).toMatchObject({
      state: "present",
      attempts: 0,
      digest: D1,
      imageId: "sha256:c",
      size: 42,
      lastPullSeconds: 1.5,
      errorKind: null,
      nextRetryAt: null,
    });
    expect(entries.isDue(key)).toBe(true);
  });

  it("keeps a present entry present while its tag is synced, and keeps its last pull time", () => {
    const entries = book();
    const api = target("reg.example/api:v1", D1);
    entries.replace([api]);
    const key = entryKey(api);
    entries.apply(key, { type: "finished", result: result(api.image, { outcome: "pulled", seconds: 3 }) });
    entries.apply(key, { type: "queued", tagOnly: true });
    expect(entries.get(key)?.status.state).toBe("present");
    entries.apply(key, { type: "finished", result: result(api.image, { outcome: "present", pulls: [] }) });
    expect(entries.get(key)?.status.lastPullSeconds).toBe(3);
  });

  it("makes a present entry pending when its image must be pulled again", () => {
    const entries = book();
    const api = target("reg.example/api:v1", D1);
    entries.replace([api]);
    const key = entryKey(api);
    entries.apply(key, { type: "finished", result: result(api.image, { outcome: "pulled", seconds: 3 }) });
    entries.apply(key, { type: "queued", tagOnly: false });
    expect(entries.get(key)?.status.state).toBe("pending");
    expect(entries.counts().present).toBe(0);
  });

  it("backs a failure off by its kind's policy, doubling per attempt, and becomes due when the clock gets there", () => {
    const entries = book();
    const missing = target("reg.example/missing:v1");
    entries.replace([missing]);
    const key = entryKey(missing);
    const fail = () =>
      entries.apply(key, {
        type: "finished",
        result: result(missing.image, { errorKind: "not_found", message: "not found" }),
      });
    const policy = DEFAULT_RETRY.failure.not_found;
    expect(fail()?.status).toMatchObject({
      state: "failed",
      attempts: 1,
      errorKind: "not_found",
      nextRetryAt: new Date(START + policy.initialMs).toISOString(),
    });
    expect(entries.isDue(key)).toBe(false);
    expect(entries.nextRetryAt([key])).toBe(START + policy.initialMs);
    vi.advanceTimersByTime(policy.initialMs - 1);
    expect(entries.isDue(key)).toBe(false);
    vi.advanceTimersByTime(1);
    expect(entries.isDue(key)).toBe(true);
    expect(entries.nextRetryAt([key])).toBeUndefined();
    const second = fail();
    expect(second?.status.attempts).toBe(2);
    expect(second?.retryAt).toBe(Date.now() + 2 * policy.initialMs);
  });

  it("makes entries that failed with one kind due now on request, and leaves the others backing off", () => {
    const entries = book();
    const [missing, refused] = [target("reg.example/missing:v1"), target("reg.example/refused:v1")];
    entries.replace([missing, refused]);
    const fail = (entry: WarmTarget, errorKind: "not_found" | "auth") =>
      entries.apply(entryKey(entry), {
        type: "finished",
        result: result(entry.image, { errorKind, message: errorKind }),
      });
    fail(missing, "not_found");
    fail(refused, "auth");
    expect(entries.retryNow("not_found")).toBe(1);
    expect(entries.isDue(entryKey(missing))).toBe(true);
    expect(entries.get(entryKey(missing))?.status).toMatchObject({ state: "failed", nextRetryAt: null });
    expect(entries.isDue(entryKey(refused))).toBe(false);
    expect(entries.retryNow("not_found")).toBe(0);
  });

  it("retries a drifted entry on the drift policy, not on not_found's", () => {
    const entries = book();
    const api = target("reg.example/api:v1", D1);
    entries.replace([api]);
    const key = entryKey(api);
    const drifted = entries.apply(key, {
      type: "finished",
      result: result(api.image, { outcome: "drifted", registryDigest: D2, message: "moved" }),
    });
    expect(drifted?.status).toMatchObject({
      state: "drifted",
      errorKind: null,
      registryDigest: D2,
      attempts: 1,
    });
    expect(drifted?.retryAt).toBe(START + DEFAULT_RETRY.drift.initialMs);
    expect(DEFAULT_RETRY.drift.initialMs).toBeLessThan(DEFAULT_RETRY.failure.not_found.initialMs);
  });

  it("reports a disk block with its kind and the disk policy", () => {
    const entries = book();
    const big = target("reg.example/big:1");
    entries.replace([big]);
    const key = entryKey(big);
    const blocked = entries.apply(key, {
      type: "finished",
      result: result(big.image, { outcome: "blocked", errorKind: "disk", message: "above the limit" }),
    });
    expect(blocked?.status).toMatchObject({
      state: "blocked",
      errorKind: "disk",
      message: "above the limit",
    });
    expect(blocked?.retryAt).toBe(START + DEFAULT_RETRY.failure.disk.initialMs);
  });

  it("keeps the state of entries that stay, starts new ones pending, drops events for those that left", () => {
    const entries = book();
    const a = target("reg.example/a:1");
    const b = target("reg.example/b:1");
    const bLocked = target("reg.example/b:1", D1);
    entries.replace([a, b]);
    entries.apply(entryKey(a), { type: "finished", result: result(a.image, { outcome: "pulled" }) });
    const left = entries.replace([a, bLocked]);
    expect(left).toEqual([entryKey(b)]);
    expect(entries.statuses().map((s) => [s.image, s.digest, s.state])).toEqual([
      [a.image, null, "present"],
      [b.image, D1, "pending"],
    ]);
    expect(entries.apply(entryKey(b), { type: "pulling" })).toBeUndefined();
  });

  it("keeps the record, its lists and its counts when an event changes nothing", () => {
    const entries = book();
    const a = target("reg.example/a:1", D1);
    const b = target("reg.example/b:1");
    entries.replace([a, b]);
    const present = result(a.image, { outcome: "present", digest: D1, imageId: "sha256:id", pulls: [] });
    const first = entries.apply(entryKey(a), { type: "finished", result: present });
    const records = entries.records();
    const statuses = entries.statuses();
    const counts = entries.counts();

    // A pass over a warm node: the entry is present again, as it was.
    expect(entries.apply(entryKey(a), { type: "finished", result: present })).toBe(first);
    expect(entries.apply(entryKey(a), { type: "queued", tagOnly: true })).toBe(first);
    expect(entries.counts()).toBe(counts);
    expect(entries.records()).toBe(records);
    expect(entries.statuses()).toBe(statuses);

    // A change makes new lists, with the unchanged record still the same object.
    entries.apply(entryKey(b), { type: "pulling" });
    expect(entries.counts()).not.toBe(counts);
    expect(entries.statuses()).not.toBe(statuses);
    expect(entries.records()[0]).toBe(first);
    expect(entries.statuses()[1]?.state).toBe("pulling");
  });

  it("counts entries by state as they move", () => {
    const entries = book();
    const a = target("reg.example/a:1");
    const b = target("reg.example/b:1");
    const c = target("reg.example/c:1");
    entries.replace([a, b, c]);
    expect(entries.counts()).toMatchObject({ pending: 3, present: 0, total: 3 });
    entries.apply(entryKey(a), { type: "finished", result: result(a.image, { outcome: "pulled" }) });
    entries.apply(entryKey(b), { type: "pulling" });
    entries.apply(entryKey(c), { type: "finished", result: result(c.image, { outcome: "failed" }) });
    expect(entries.counts()).toEqual({
      pending: 0,
      pulling: 1,
      present: 1,
      failed: 1,
      blocked: 0,
      drifted: 0,
      total: 3,
    });
    entries.replace([a]);
    expect(entries.counts()).toMatchObject({ present: 1, pulling: 0, failed: 0, total: 1 });
  });

  it("keeps its counts equal to its statuses through any sequence of events", () => {
    const entries = book();
    const targets = Array.from({ length: 6 }, (_, i) => target(`reg.example/app-${String(i)}:1`));
    const outcomes = ["present", "pulled", "failed", "blocked", "drifted"] as const;
    const tally = (): Record<string, number> => {
      const byState: Record<string, number> = Object.fromEntries(ENTRY_STATES.map((state) => [state, 0]));
      for (const status of entries.statuses()) byState[status.state] = (byState[status.state] ?? 0) + 1;
      return { ...byState, total: entries.statuses().length };
    };
    entries.replace(targets);
    for (let step = 0; step < 200; step += 1) {
      const subject = targets[(step * 7) % targets.length];
      if (subject === undefined) continue;
      if (step % 50 === 49) entries.replace(targets.slice(0, 3 + (step % 4)));
      else if (step % 3 === 0) entries.apply(entryKey(subject), { type: "pulling" });
      else {
        const outcome = outcomes[step % outcomes.length] ?? "present";
        entries.apply(entryKey(subject), { type: "finished", result: result(subject.image, { outcome }) });
      }
      expect(entries.counts()).toEqual(tally());
    }
  });

  it("keeps failure kinds and drift starts through retries, and clears them when the entry is present", () => {
    const entries = book();
    const missing = target("reg.example/missing:1");
    const moved = target("reg.example/moved:1", D1);
    const full = target("reg.example/full:1");
    entries.replace([missing, moved, full]);
    const drift = (): void => {
      entries.apply(entryKey(moved), {
        type: "finished",
        result: result(moved.image, { outcome: "drifted", registryDigest: D2 }),
      });
    };
    entries.apply(entryKey(missing), {
      type: "finished",
      result: result(missing.image, { errorKind: "not_found" }),
    });
    entries.apply(entryKey(full), {
      type: "finished",
      result: result(full.image, { outcome: "blocked", errorKind: "disk" }),
    });
    drift();
    const driftStart = Date.now();
    expect(entries.faults()).toEqual({
      failing: { not_found: 1, disk: 1 },
      drifted: [{ image: moved.image, since: driftStart }],
    });

    // Tried again: pending and pulling, then the same result, later.
    vi.advanceTimersByTime(60_000);
    for (const key of [entryKey(missing), entryKey(moved)]) {
      entries.apply(key, { type: "queued", tagOnly: false });
      entries.apply(key, { type: "pulling" });
    }
    expect(entries.counts()).toMatchObject({ pulling: 2, failed: 0, drifted: 0 });
    expect(entries.faults()).toEqual({
      failing: { not_found: 1, disk: 1 },
      drifted: [{ image: moved.image, since: driftStart }],
    });
    drift();
    expect(entries.faults().drifted).toEqual([{ image: moved.image, since: driftStart }]);

    // Another result ends the drift; the next drift starts its own clock.
    entries.apply(entryKey(moved), {
      type: "finished",
      result: result(moved.image, { errorKind: "network" }),
    });
    expect(entries.faults()).toEqual({ failing: { not_found: 1, disk: 1, network: 1 }, drifted: [] });
    vi.advanceTimersByTime(1_000);
    drift();
    expect(entries.faults().drifted).toEqual([{ image: moved.image, since: Date.now() }]);

    entries.apply(entryKey(missing), {
      type: "finished",
      result: result(missing.image, { outcome: "pulled" }),
    });
    entries.apply(entryKey(moved), { type: "finished", result: result(moved.image, { outcome: "pulled" }) });
    expect(entries.faults()).toEqual({ failing: { disk: 1 }, drifted: [] });
  });

  it("lists drifted entries longest drifted first", () => {
    const entries = book();
    const [a, b, c] = ["reg.example/a:1", "reg.example/b:1", "reg.example/c:1"].map((image) =>
      target(image, D1),
    ) as [WarmTarget, WarmTarget, WarmTarget];
    entries.replace([a, b, c]);
    const drift = (t: WarmTarget): void => {
      entries.apply(entryKey(t), {
        type: "finished",
        result: result(t.image, { outcome: "drifted", registryDigest: D2 }),
      });
    };
    drift(c);
    vi.advanceTimersByTime(5);
    drift(b);
    drift(a);
    expect(entries.faults().drifted.map((d) => [d.image, d.since - START])).toEqual([
      [c.image, 0],
      [a.image, 5],
      [b.image, 5],
    ]);
  });
});
