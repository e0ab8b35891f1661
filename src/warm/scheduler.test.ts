import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ClassifiedError } from "../failure/index.ts";
import { parseReference } from "../reference/index.ts";
import { DEFAULT_RETRY, spreadDelay } from "./backoff.ts";
import type { WarmLogger } from "./events.ts";
import type { WarmTarget } from "./plan.ts";
import { WarmScheduler, type SettledPass, type WarmSchedulerOptions } from "./scheduler.ts";
import { MemoryRegistry, MemoryRuntime, type PublishedImage } from "./testing/index.ts";

const START = Date.parse("2026-01-01T00:00:00Z");
const HOUR = 60 * 60_000;

const locked = (image: PublishedImage): WarmTarget => ({
  image: image.reference,
  reference: parseReference(image.reference),
  digest: image.digest,
});
const digestName = (image: PublishedImage): string => `${image.repository}@${image.digest}`;

/** Lets every promise chain and due timer run: the in-memory runtime answers within this. */
const settle = (ms = 0): Promise<void> => vi.advanceTimersByTimeAsync(ms).then(() => undefined);

const running: WarmScheduler[] = [];

function node(options: Partial<WarmSchedulerOptions> = {}) {
  const registry = new MemoryRegistry();
  const runtime = new MemoryRuntime({ registries: [registry] });
  const settled: SettledPass[] = [];
  const logged: string[] = [];
  const record = (_: object, message?: string): void => {
    logged.push(message ?? "");
  };
  const logger: WarmLogger = { info: record, warn: record, error: record, debug: () => undefined };
  const scheduler = new WarmScheduler({
    runtime,
    nodeName: "node-a",
    concurrency: 2,
    pullTimeoutMs: 60_000,
    resyncMs: HOUR,
    spreadMs: 0,
    runtimeGraceMs: 30_000,
    resolveTag: registry.resolveTag,
    logger,
    onPassSettled: (pass) => settled.push(pass),
    ...options,
  });
  running.push(scheduler);
  const state = (image: PublishedImage) =>
    scheduler.status().entries.find((entry) => entry.image === image.reference)?.state;
  return { registry, runtime, scheduler, settled, logged, state };
}

describe("WarmScheduler", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(START);
  });
  afterEach(async () => {
    const stopping = Promise.all(running.splice(0).map((scheduler) => scheduler.stop(0)));
    await settle();
    await stopping;
    vi.useRealTimers();
  });

  it("warms the set once started, and says when it was warm", async () => {
    const { registry, runtime, scheduler } = node();
    const [a, b] = [registry.publish("team/a", "v1"), registry.publish("team/b", "v1")];
    scheduler.setDesired([locked(a), locked(b)], "g1");
    await settle();
    expect(scheduler.status()).toMatchObject({ warm: false, counts: { pending: 2 }, lastPass: null });

    scheduler.start();
    await settle();
    expect(scheduler.status()).toMatchObject({
      generation: "g1",
      warm: true,
      counts: { present: 2, total: 2 },
      lastPass: { at: new Date(START).toISOString() },
    });
    expect(scheduler.status().entries[0]).toMatchObject({ imageId: a.configDigest, digest: a.digest });
    expect(scheduler.generationTimes()).toEqual({ startedAt: START, warmAt: START });
    expect(runtime.pulls()).toEqual([digestName(a), digestName(b), a.reference, b.reference]);
  });

  it("pulls nothing on a pass over a warm set, and hands that pass's inventory on", async () => {
    const { registry, runtime, scheduler, settled } = node();
    const a = registry.publish("team/a", "v1");
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await settle();
    expect(settled).toEqual([{ images: undefined, pullsRunning: false }]);

    await settle(HOUR);
    expect(runtime.pulls()).toHaveLength(2);
    expect(settled[1]).toEqual({ images: await runtime.listImages(), pullsRunning: false });
  });

  it("retries a failed entry when its backoff ends, well before the resync", async () => {
    const retry = {
      ...DEFAULT_RETRY,
      failure: { ...DEFAULT_RETRY.failure, network: { initialMs: 10_000, maxMs: 10_000 } },
    };
    const { registry, runtime, scheduler, state } = node({ retry });
    const a = registry.publish("team/a", "v1");
    runtime.failPulls(digestName(a), new ClassifiedError("network", "connection reset by peer"), {
      times: 1,
    });
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await settle();
    expect(scheduler.status().entries[0]).toMatchObject({
      state: "failed",
      errorKind: "network",
      attempts: 1,
      message: "connection reset by peer",
    });
    expect(scheduler.faults().failing).toEqual({ network: 1 });

    // Full jitter in the upper half: the retry comes between 5 and 10 seconds later.
    await settle(4_999);
    expect(runtime.pulls()).toEqual([digestName(a)]);
    await settle(5_001);
    expect(state(a)).toBe("present");
    expect(scheduler.status().entries[0]).toMatchObject({ attempts: 0, errorKind: null, nextRetryAt: null });
  });

  it("reports a tag that moved in the registry as drifted, with where it points now", async () => {
    const { registry, scheduler, state } = node();
    const a = registry.publish("team/a", "v1");
    const moved = registry.publish("team/a", "v1");
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await settle();
    expect(state(a)).toBe("drifted");
    expect(scheduler.status().entries[0]?.registryDigest).toBe(moved.digest);
    expect(scheduler.faults().drifted).toEqual([{ image: a.reference, since: START }]);
  });

  it("stays healthy while the runtime is away within the grace, and warms once it is back", async () => {
    const { registry, runtime, scheduler, state } = node();
    const a = registry.publish("team/a", "v1");
    runtime.setAvailable(false);
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await settle();
    expect(scheduler.status().runtime).toMatchObject({ reachable: false, name: null });
    expect(scheduler.status().runtime.error).toContain("unavailable");
    expect(scheduler.health().ok).toBe(true);

    await settle(31_000);
    expect(scheduler.health().ok).toBe(false);
    runtime.setAvailable(true);
    await settle(30_000);
    expect(scheduler.status().runtime).toMatchObject({ reachable: true, name: "containerd", error: null });
    expect(scheduler.health().ok).toBe(true);
    expect(state(a)).toBe("present");
  });

  it("starts a new generation after this node's share of the spread", async () => {
    const spreadMs = 60_000;
    const { registry, runtime, scheduler, state } = node({ spreadMs });
    const delay = spreadDelay("node-a", "g1", spreadMs);
    const a = registry.publish("team/a", "v1");
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await settle(delay - 1);
    expect(runtime.pulls()).toEqual([]);
    await settle(1);
    expect(state(a)).toBe("present");
  });

  it("cancels the pull of an entry removed during a pass; the rest of the set goes on", async () => {
    const { registry, runtime, scheduler, logged, state } = node();
    const [a, b] = [registry.publish("team/a", "v1"), registry.publish("team/b", "v1")];
    const hold = runtime.holdPull(digestName(a));
    scheduler.setDesired([locked(a), locked(b)], "g1");
    scheduler.start();
    await hold.reached;
    await settle();
    expect(state(a)).toBe("pulling");
    expect(scheduler.pulling()).toHaveLength(1);

    scheduler.setDesired([locked(b)], "g2");
    await settle();
    expect(scheduler.status().entries.map((entry) => [entry.image, entry.state])).toEqual([
      [b.reference, "present"],
    ]);
    expect(scheduler.pulling()).toEqual([]);
    expect(await runtime.imageStatus(digestName(a))).toBeUndefined();
    expect(logged).toContain("entry left the set; cancelling its pull");
  });

  it("never pulls an entry removed while the pass read the node's images", async () => {
    const { registry, runtime, scheduler, state } = node();
    const [a, b] = [registry.publish("team/a", "v1"), registry.publish("team/b", "v1")];
    const listing = runtime.holdListing();
    scheduler.setDesired([locked(a), locked(b)], "g1");
    scheduler.start();
    await listing.reached;
    scheduler.setDesired([locked(b)], "g2");
    listing.release();
    await settle();
    expect(runtime.pulls()).toEqual([digestName(b), b.reference]);
    expect(state(b)).toBe("present");
    expect(scheduler.status().counts.total).toBe(1);
  });

  it("finds present, without a pull, an entry whose cancelled pull the runtime recorded between unpack and record", async () => {
    const { registry, runtime, scheduler, state } = node();
    const a = registry.publish("team/a", "v1");
    const hold = runtime.holdPull(digestName(a), { recordsWhenCancelled: true });
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await hold.reached;
    scheduler.setDesired([], "g2");
    await settle();
    expect(scheduler.status().entries).toEqual([]);
    // The runtime finished recording as the cancel arrived: the image is on the node.
    expect((await runtime.imageStatus(digestName(a)))?.id).toBe(a.configDigest);

    const pullsBefore = runtime.pulls().length;
    scheduler.setDesired([locked(a)], "g3");
    await settle();
    // Its tag was not recorded: only the tag is synced, its content is not pulled again.
    expect(runtime.pulls().slice(pullsBefore)).toEqual([a.reference]);
    expect(state(a)).toBe("present");
    expect(scheduler.status().entries[0]?.imageId).toBe(a.configDigest);
  });

  it("gives a slot freed while the generation changes to the new generation's work, not to an entry that left", async () => {
    const { registry, runtime, scheduler, state } = node({ concurrency: 1 });
    const [a, b, c] = ["a", "b", "c"].map((name) => registry.publish(`team/${name}`, "v1"));
    if (a === undefined || b === undefined || c === undefined) throw new Error("three images");
    const hold = runtime.holdPull(digestName(a));
    scheduler.setDesired([locked(a), locked(b)], "g1");
    scheduler.start();
    await hold.reached;
    await settle();
    expect([state(a), state(b)]).toEqual(["pulling", "pending"]);

    vi.setSystemTime(START + 1_000);
    scheduler.setDesired([locked(a), locked(c)], "g2");
    await settle();
    hold.release();
    await settle();
    expect(runtime.pulls()).toEqual([digestName(a), a.reference, digestName(c), c.reference]);
    expect(scheduler.status()).toMatchObject({
      generation: "g2",
      warm: true,
      counts: { present: 2, total: 2 },
    });
    expect(scheduler.generationTimes()).toEqual({ startedAt: START + 1_000, warmAt: START + 1_000 });
  });

  it("gives the slot of an entry that left with the generation to the entry waiting for it", async () => {
    const { registry, runtime, scheduler, state } = node({ concurrency: 1 });
    const [a, b, c] = ["a", "b", "c"].map((name) => registry.publish(`team/${name}`, "v1"));
    if (a === undefined || b === undefined || c === undefined) throw new Error("three images");
    const hold = runtime.holdPull(digestName(a));
    scheduler.setDesired([locked(a), locked(b)], "g1");
    scheduler.start();
    await hold.reached;
    scheduler.setDesired([locked(b), locked(c)], "g2");
    await settle();
    expect([state(b), state(c)]).toEqual(["present", "present"]);
    expect(runtime.pulls()).toEqual([digestName(a), digestName(b), b.reference, digestName(c), c.reference]);
    expect(await runtime.imageStatus(digestName(a))).toBeUndefined();
  });

  it("on stop, cancels entries waiting for a slot at once and lets running pulls finish within the grace", async () => {
    const { registry, runtime, scheduler, state } = node({ concurrency: 1 });
    const [a, b] = [registry.publish("team/a", "v1"), registry.publish("team/b", "v1")];
    const hold = runtime.holdPull(digestName(a));
    scheduler.setDesired([locked(a), locked(b)], "g1");
    scheduler.start();
    await hold.reached;
    let stopped = false;
    const stopping = scheduler.stop(10_000).then(() => {
      stopped = true;
    });
    await settle(5_000);
    expect(stopped).toBe(false);
    hold.release();
    await settle();
    await stopping;
    expect(state(a)).toBe("present");
    expect(runtime.pulls()).not.toContain(digestName(b));
  });

  it("on stop, cancels a pull that outlasts the grace", async () => {
    const { registry, runtime, scheduler } = node();
    const a = registry.publish("team/a", "v1");
    const hold = runtime.holdPull(digestName(a));
    scheduler.setDesired([locked(a)], "g1");
    scheduler.start();
    await hold.reached;
    const stopping = scheduler.stop(10_000);
    await settle(10_000);
    await stopping;
    expect(await runtime.listImages()).toEqual([]);
  });
});
