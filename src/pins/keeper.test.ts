import { tmpdir } from "node:os";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { probeContainerd } from "../containerd/index.ts";
import { MemoryContainerdApi } from "../containerd/testing/index.ts";
import { parseReference } from "../reference/index.ts";
import { entryKey, WarmScheduler, type WarmLogger, type WarmTarget } from "../warm/index.ts";
import { MemoryRegistry, MemoryRuntime, type PublishedImage } from "../warm/testing/index.ts";
import { pinEntryOf } from "./entries.ts";
import { PinKeeper, type PinPassResult } from "./keeper.ts";
import { OWNER_LABEL, OWNER_VALUE, PIN_LABEL, PIN_VALUE } from "./labels.ts";

const START = Date.parse("2026-01-01T00:00:00Z");
const MINUTE = 60_000;
const OURS = { [PIN_LABEL]: PIN_VALUE, [OWNER_LABEL]: OWNER_VALUE };

const locked = (image: PublishedImage): WarmTarget => ({
  image: image.reference,
  reference: parseReference(image.reference),
  digest: image.digest,
});
const namesOf = (image: PublishedImage): string[] => [image.reference, `${image.repository}@${image.digest}`];

const quiet: WarmLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

const running: WarmScheduler[] = [];

/** A node as the agent wires it: the scheduler's settled passes ask the pin keeper for a pin pass. */
function node(options: { enabled?: boolean; budgetRatio?: number; optedOut?: Set<string> } = {}) {
  const registry = new MemoryRegistry();
  const runtime = new MemoryRuntime({ registries: [registry] });
  const api = new MemoryContainerdApi(runtime.store);
  const passes: PinPassResult[] = [];
  const optedOut = options.optedOut ?? new Set<string>();
  const scheduler: WarmScheduler = new WarmScheduler({
    runtime,
    nodeName: "node-a",
    concurrency: 2,
    pullTimeoutMs: 60 * MINUTE,
    resyncMs: MINUTE,
    spreadMs: 0,
    runtimeGraceMs: 30_000,
    resolveTag: registry.resolveTag,
    onPassSettled: ({ images, pullsRunning }) => {
      pins.request(images, { pullsRunning });
    },
  });
  const pins = new PinKeeper({
    enabled: options.enabled ?? true,
    budgetRatio: options.budgetRatio ?? 1,
    runtime,
    api,
    probe: (criRuntimeName) => probeContainerd(api, { criRuntimeName }),
    mountpoint: () => Promise.resolve(tmpdir()),
    entries: () =>
      scheduler.entries().map((entry) => ({ key: entry.key, entry: pinEntryOf(entry, optedOut) })),
    logger: quiet,
    onPinPass: (result) => passes.push(result),
  });
  running.push(scheduler);
  /**
   * Lets passes, pulls and the pin passes they ask for run their course, one resync interval at a
   * time: the pin budget's statfs is real I/O, and a pass that settles while a pin pass reads it
   * would be folded into the next pin pass.
   */
  const settle = async (ms = 0): Promise<void> => {
    let left = ms;
    do {
      const step = Math.min(left, MINUTE);
      left -= step;
      await vi.advanceTimersByTimeAsync(step);
      for (let round = 0; round < 2; round += 1) {
        await vi.advanceTimersByTimeAsync(0);
        await pins.idle();
      }
    } while (left > 0);
  };
  const labels = async (name: string) => (await api.getImage(name))?.labels ?? {};
  const pinOf = (image: PublishedImage) => {
    const status = scheduler.status().entries.find((entry) => entry.image === image.reference);
    return pins.entry(entryKey(locked(image)), status?.imageId ?? undefined);
  };
  const criPinned = async (image: PublishedImage) =>
    (await runtime.listImages()).find((listed) => listed.id === image.configDigest)?.pinned;
  return { registry, runtime, api, scheduler, pins, passes, settle, labels, pinOf, criPinned };
}

describe("PinKeeper with the warm scheduler", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(START);
  });
  afterEach(async () => {
    const stopping = Promise.all(running.splice(0).map((scheduler) => scheduler.stop(0)));
    await vi.advanceTimersByTimeAsync(0);
    await stopping;
    vi.useRealTimers();
  });

  it("pins the names pods use once the set is warm, marked as prepull's, and CRI reports the images pinned", async () => {
    const { registry, scheduler, pins, passes, settle, labels, pinOf, criPinned } = node();
    const [a, b] = [registry.publish("team/a", "v1"), registry.publish("team/b", "v1")];
    scheduler.setDesired([locked(a), locked(b)], "g1");
    scheduler.start();
    await settle();
    expect(passes).toEqual(["full"]);
    for (const image of [a, b]) {
      expect(pinOf(image)).toEqual({ pinned: true, pinReason: "pinned" });
      for (const name of namesOf(image)) expect(await labels(name)).toMatchObject(OURS);
      expect(await labels(image.configDigest)).not.toHaveProperty(PIN_LABEL);
      expect(await criPinned(image)).toBe(true);
    }
    expect(pins.status()).toMatchObject({ available: true, reason: null, count: 2, bytes: a.size + b.size });
  });

  it("waits for the warm's pulls before pinning, and still pins during a warm that does not end", async () => {
    const { registry, runtime, scheduler, passes, settle, labels, pinOf } = node();
    const [fast, slow] = [registry.publish("team/fast", "v1"), registry.publish("team/slow", "v1")];
    const hold = runtime.holdPull(`${slow.repository}@${slow.digest}`);
    scheduler.setDesired([locked(fast), locked(slow)], "g1");
    scheduler.start();
    await hold.reached;
    // Resync passes settle every minute while the slow pull runs: none may start a pin pass.
    await settle(5 * MINUTE);
    expect(scheduler.status().entries.map((entry) => entry.state)).toEqual(["present", "pulling"]);
    expect(passes).toEqual([]);
    expect(pinOf(fast)).toEqual({ pinned: null, pinReason: null });
    for (const name of namesOf(fast)) expect(await labels(name)).not.toHaveProperty(PIN_LABEL);

    // Ten minutes on, the warm still running, a pin pass runs during it: it pins what is present.
    await settle(6 * MINUTE);
    expect(passes).toEqual(["full"]);
    expect(pinOf(fast)).toEqual({ pinned: true, pinReason: "pinned" });
    expect(pinOf(slow)).toEqual({ pinned: false, pinReason: "absent" });
    expect(scheduler.status().entries[1]?.state).toBe("pulling");

    // The pull ends as it would have: the pass that settles last pins the rest.
    hold.release();
    await settle();
    expect(scheduler.status().warm).toBe(true);
    expect(pinOf(slow)).toEqual({ pinned: true, pinReason: "pinned" });
    for (const name of namesOf(slow)) expect(await labels(name)).toMatchObject(OURS);
  });

  it("at rest reads no records, and restores pins that pulls of the names dropped", async () => {
    const { registry, runtime, scheduler, passes, settle, labels } = node();
    const a = registry.publish("team/a", "v1");
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await settle();
    await settle(3 * MINUTE);
    // The pass after the one that pinned sees CRI's `pinned` changed, reads the records once more
    // and finds nothing to do: from then on the set is at rest.
    expect(passes).toEqual(["full", "full", "unchanged", "unchanged"]);

    // kubelet pulls both names again: both records lose their labels, and CRI's `pinned` with them.
    for (const name of namesOf(a)) await runtime.pullImage(name);
    await settle(MINUTE);
    expect(passes.at(-1)).toBe("full");
    for (const name of namesOf(a)) expect(await labels(name)).toMatchObject(OURS);
  });

  it("restores a pin on one name within the full pass interval, though CRI still shows the image pinned", async () => {
    const { registry, runtime, scheduler, passes, settle, labels, criPinned } = node();
    const a = registry.publish("team/a", "v1");
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await settle(2 * MINUTE);
    expect(passes).toEqual(["full", "full", "unchanged"]);
    // kubelet pulls the tag again: its record loses the pin, the digest's keeps it.
    await runtime.pullImage(a.reference);
    expect(await labels(a.reference)).not.toHaveProperty(PIN_LABEL);
    expect(await criPinned(a)).toBe(true);
    await settle(5 * MINUTE);
    expect(passes.slice(3)).toEqual(Array(5).fill("unchanged"));
    await settle(5 * MINUTE);
    expect(passes.slice(8)).toContain("full");
    expect(await labels(a.reference)).toMatchObject(OURS);
  });

  it("unpins an entry that leaves the set, and leaves a pin set by hand alone", async () => {
    const { registry, runtime, api, scheduler, pins, settle, labels, criPinned } = node();
    const [a, b, byHand] = ["a", "b", "by-hand"].map((name) => registry.publish(`team/${name}`, "v1"));
    if (a === undefined || b === undefined || byHand === undefined) throw new Error("three images");
    await runtime.pullImage(byHand.reference);
    const record = await api.getImage(byHand.reference);
    if (record === undefined) throw new Error("no record of the image pinned by hand");
    await api.updateImageLabels(record, { [PIN_LABEL]: PIN_VALUE });
    scheduler.setDesired([locked(a), locked(b), locked(byHand)], "g1");
    scheduler.start();
    await settle();
    expect(pins.reasons()).toEqual({ pinned: 2, "pinned-elsewhere": 1 });

    scheduler.setDesired([locked(a)], "g2");
    await settle();
    for (const name of namesOf(b)) {
      expect(await labels(name)).not.toHaveProperty(PIN_LABEL);
      expect(await labels(name)).not.toHaveProperty(OWNER_LABEL);
    }
    expect(await criPinned(b)).toBe(false);
    expect(await labels(byHand.reference)).toEqual({ ...record.labels, [PIN_LABEL]: PIN_VALUE });
    for (const name of namesOf(a)) expect(await labels(name)).toMatchObject(OURS);
    expect(pins.reasons()).toEqual({ pinned: 1 });
  });

  it("keeps an entry that opts out warm and unpinned", async () => {
    const optedOut = new Set<string>();
    const { registry, scheduler, settle, labels, pinOf } = node({ optedOut });
    const [a, b] = [registry.publish("team/a", "v1"), registry.publish("team/b", "v1")];
    optedOut.add(entryKey(locked(b)));
    scheduler.setDesired([locked(a), locked(b)], "g1");
    scheduler.start();
    await settle();
    expect(scheduler.status().warm).toBe(true);
    expect(pinOf(a)).toEqual({ pinned: true, pinReason: "pinned" });
    expect(pinOf(b)).toEqual({ pinned: false, pinReason: "opted-out" });
    for (const name of namesOf(b)) expect(await labels(name)).not.toHaveProperty(PIN_LABEL);
  });

  it("pins nothing over the budget, and says so per entry", async () => {
    const { registry, scheduler, pins, settle, labels, pinOf } = node({ budgetRatio: 0 });
    const a = registry.publish("team/a", "v1");
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await settle();
    expect(pinOf(a)).toEqual({ pinned: false, pinReason: "budget" });
    expect(pins.status()).toMatchObject({ available: true, count: 0, budgetBytes: 0 });
    for (const name of namesOf(a)) expect(await labels(name)).not.toHaveProperty(PIN_LABEL);
  });

  it("touches no label when pinning is turned off, and says so", async () => {
    const { registry, api, scheduler, pins, passes, settle, pinOf } = node({ enabled: false });
    const a = registry.publish("team/a", "v1");
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await settle();
    expect(passes).toEqual([]);
    expect(pins.status()).toMatchObject({ available: false, reason: "pinning is turned off (--pin=false)" });
    expect(pinOf(a)).toEqual({ pinned: null, pinReason: null });
    expect(await api.listImages([`labels.${JSON.stringify(OWNER_LABEL)}`])).toEqual([]);
  });
});
