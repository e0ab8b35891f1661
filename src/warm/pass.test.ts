import PQueue from "p-queue";
import { describe, expect, it } from "vitest";
import { ClassifiedError } from "../failure/index.ts";
import { parseReference } from "../reference/index.ts";
import type { DiskAdmission, DiskGuard } from "./disk-guard.ts";
import type { EntryResult } from "./execute.ts";
import { startWarmPass, type PassDependencies, type PassEntry } from "./pass.ts";
import type { WarmTarget } from "./plan.ts";
import { warmOnce } from "./run.ts";
import { MemoryRegistry, MemoryRuntime, type PublishedImage } from "./testing/index.ts";

function target(image: string, digest?: string): WarmTarget {
  const reference = parseReference(image);
  return { image, reference, digest: digest ?? reference.digest };
}

const locked = (image: PublishedImage): WarmTarget => target(image.reference, image.digest);
const digestName = (image: PublishedImage): string => `${image.repository}@${image.digest}`;

function node(concurrency = 2) {
  const registry = new MemoryRegistry();
  const runtime = new MemoryRuntime({ registries: [registry] });
  const deps: PassDependencies = {
    runtime,
    resolveTag: registry.resolveTag,
    sizeOf: registry.sizeOf,
    pullTimeoutMs: 60_000,
    slots: new PQueue({ concurrency }),
  };
  return { registry, runtime, deps };
}

/** A disk guard that admits every pull; `stop` stops the pulls it admitted, as an overfill does. */
function watchfulGuard() {
  const asked: Array<number | undefined> = [];
  const stopper = new AbortController();
  const guard: DiskGuard = {
    admit: (size) => {
      asked.push(size.compressed);
      const admission: DiskAdmission = {
        ok: true,
        ticket: {
          signal: stopper.signal,
          finish: () =>
            Promise.resolve(stopper.signal.aborted ? "the image filesystem is 91% full" : undefined),
        },
      };
      return Promise.resolve(admission);
    },
  };
  const stop = (): void => {
    stopper.abort(new ClassifiedError("disk", "over the threshold"));
  };
  return { guard, asked, stop };
}

const refusingGuard: DiskGuard = {
  admit: () => Promise.resolve({ ok: false, message: "the image filesystem is 95% full" }),
};

describe("startWarmPass", () => {
  it("plans every entry from one inventory: what the node holds is present without a pull, the rest is pulled", async () => {
    const { registry, runtime, deps } = node();
    const held = registry.publish("team/held", "v1");
    const absent = registry.publish("team/absent", "v1");
    await runtime.pullImage(held.reference);
    await runtime.pullImage(digestName(held));
    const before = await runtime.listImages();

    const pass = await startWarmPass([{ target: locked(absent) }, { target: locked(held) }], deps);
    expect(pass.images).toEqual(before);
    const results = await pass.results;
    expect(results.map((result) => [result.image, result.outcome, result.pulls])).toEqual([
      [absent.reference, "pulled", [digestName(absent), absent.reference]],
      [held.reference, "present", []],
    ]);
    expect(results[1]).toMatchObject({ digest: held.digest, imageId: held.configDigest, size: held.size });
  });

  it("checks an entry that backs off against the inventory, but does not pull it", async () => {
    const { registry, runtime, deps } = node();
    const backingOff = registry.publish("team/backing-off", "v1");
    const results = await (
      await startWarmPass([{ target: locked(backingOff), mayPull: false }], deps)
    ).results;
    expect(results).toEqual([]);
    expect(runtime.pulls()).toEqual([]);
  });

  it("runs no more pulls at once than the slots allow, across entries", async () => {
    const { registry, runtime, deps } = node(1);
    const [a, b] = [registry.publish("team/a", "v1"), registry.publish("team/b", "v1")];
    const holdA = runtime.holdPull(a.reference);
    const holdB = runtime.holdPull(b.reference);
    const pass = await startWarmPass(
      [{ target: target(a.reference) }, { target: target(b.reference) }],
      deps,
    );
    await holdA.reached;
    expect(runtime.pulls()).toEqual([a.reference]);
    holdA.release();
    await holdB.reached;
    expect(runtime.pulls()).toEqual([a.reference, b.reference]);
    holdB.release();
    expect((await pass.results).map((result) => result.outcome)).toEqual(["pulled", "pulled"]);
  });

  it("cancels an entry through the signal its queueing returns: no pull, and no result reported", async () => {
    const { registry, runtime, deps } = node();
    const [kept, dropped] = [registry.publish("team/kept", "v1"), registry.publish("team/dropped", "v1")];
    const reported: string[] = [];
    const entries: PassEntry[] = [{ target: target(kept.reference) }, { target: target(dropped.reference) }];
    const pass = await startWarmPass(entries, deps, {
      onQueued: (queued) =>
        queued.image === dropped.reference ? AbortSignal.abort(new Error("left the set")) : undefined,
      onResult: (result) => reported.push(result.image),
    });
    await pass.results;
    expect(reported).toEqual([kept.reference]);
    expect(runtime.pulls()).toEqual([kept.reference]);
  });

  it("does not hand a freed slot to an entry cancelled while it waited: no disk reservation, no pull", async () => {
    const { registry, runtime, deps } = node(1);
    const [a, b] = [registry.publish("team/a", "v1", { size: 1_000 }), registry.publish("team/b", "v1")];
    const { guard, asked } = watchfulGuard();
    const hold = runtime.holdPull(digestName(a));
    const cancelB = new AbortController();
    const pass = await startWarmPass([{ target: locked(a) }, { target: locked(b), signal: cancelB.signal }], {
      ...deps,
      diskGuard: guard,
    });
    await hold.reached;
    cancelB.abort(new Error("the entry left the desired set"));
    hold.release();
    const results = await pass.results;
    expect(results.map((result) => result.outcome)).toEqual(["pulled", "failed"]);
    expect(results[1]?.pulls).toEqual([]);
    expect(asked).toEqual([1_000]);
    expect(runtime.pulls()).not.toContain(digestName(b));
  });

  it("keeps an entry back, blocked, when the disk guard refuses it", async () => {
    const { registry, runtime, deps } = node();
    const big = registry.publish("team/big", "v1");
    const [result] = await (
      await startWarmPass([{ target: locked(big) }], { ...deps, diskGuard: refusingGuard })
    ).results;
    expect(result).toMatchObject({
      outcome: "blocked",
      errorKind: "disk",
      message: "the image filesystem is 95% full",
      pulls: [],
    });
    expect(runtime.pulls()).toEqual([]);
  });

  it("asks the registry for sizes no faster than it pulls: a cold set's lookups wait for slots", async () => {
    const { registry, deps } = node(2);
    const images = Array.from({ length: 40 }, (_, i) => registry.publish(`team/cold-${String(i)}`, "v1"));
    let inFlight = 0;
    let most = 0;
    const sizeOf: PassDependencies["sizeOf"] = async (reference, signal) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      try {
        return await registry.sizeOf(reference, signal);
      } finally {
        inFlight -= 1;
      }
    };
    const { guard, asked } = watchfulGuard();
    const pass = await startWarmPass(
      images.map((image) => ({ target: locked(image) })),
      { ...deps, sizeOf, diskGuard: guard },
    );
    const results = await pass.results;
    expect(results.every((result) => result.outcome === "pulled")).toBe(true);
    expect(asked).toHaveLength(40);
    expect(most).toBe(2);
  });

  it("judges a pull by the size the registry gives, and syncs a tag past a guard that refuses content", async () => {
    const { registry, runtime, deps } = node();
    const sized = registry.publish("team/sized", "v1", { size: 7_777 });
    const { guard, asked } = watchfulGuard();
    await (
      await startWarmPass([{ target: locked(sized) }], { ...deps, diskGuard: guard })
    ).results;
    expect(asked).toEqual([7_777]);

    // The node holds the image by digest; its tag is lost: a tag sync downloads nothing.
    await runtime.removeImage(sized.configDigest);
    await runtime.pullImage(digestName(sized));
    const [synced] = await (
      await startWarmPass([{ target: locked(sized) }], { ...deps, diskGuard: refusingGuard })
    ).results;
    expect(synced).toMatchObject({ outcome: "pulled", pulls: [sized.reference] });
  });

  it("gives the guard what the layers unpack to, and says whether each pull completed", async () => {
    const { registry, runtime, deps } = node();
    const sized = registry.publish("team/unpacked", "v1", { size: 2_000, unpacked: 40_000 });
    const broken = registry.publish("team/broken", "v1", { size: 3_000 });
    runtime.failPulls(digestName(broken), new ClassifiedError("network", "connection reset by peer"));
    const sizes: unknown[] = [];
    const finished: Array<boolean | undefined> = [];
    const guard: DiskGuard = {
      admit: (size) => {
        sizes.push(size);
        const admission: DiskAdmission = {
          ok: true,
          ticket: {
            signal: new AbortController().signal,
            finish: (options) => {
              finished.push(options?.complete);
              return Promise.resolve(undefined);
            },
          },
        };
        return Promise.resolve(admission);
      },
    };
    const results = await (
      await startWarmPass([{ target: locked(sized) }, { target: locked(broken) }], {
        ...deps,
        slots: new PQueue({ concurrency: 1 }),
        diskGuard: guard,
      })
    ).results;
    expect(results.map((result) => result.outcome)).toEqual(["pulled", "failed"]);
    expect(sizes).toEqual([{ compressed: 2_000, uncompressed: 40_000 }, { compressed: 3_000 }]);
    // The failed pull may leave the runtime writing: its reservation is held until that ends.
    expect(finished).toEqual([true, false]);
  });

  it("removes the image of a pull the disk guard stopped between unpack and record", async () => {
    const { registry, runtime, deps } = node();
    const api = registry.publish("team/api", "v1");
    const { guard, stop } = watchfulGuard();
    const hold = runtime.holdPull(digestName(api), { recordsWhenCancelled: true });
    const pass = await startWarmPass([{ target: locked(api) }], { ...deps, diskGuard: guard });
    await hold.reached;
    stop();
    const [result] = await pass.results;
    expect(result?.outcome).toBe("blocked");
    expect(result?.errorKind).toBe("disk");
    expect(result?.message).toContain("the pull was stopped and its image removed");
    expect(await runtime.listImages()).toEqual([]);
  });
});

describe("warmOnce", () => {
  it("warms a whole set in input order; a failing entry does not stop the others", async () => {
    const { registry, runtime } = node();
    const [a, b, c] = ["a", "b", "c"].map((name) => registry.publish(`team/${name}`, "v1"));
    if (a === undefined || b === undefined || c === undefined) throw new Error("three images");
    runtime.failPulls(digestName(b), new ClassifiedError("network", "connection reset by peer"));
    const seen: EntryResult[] = [];
    const results = await warmOnce([locked(a), locked(b), locked(c)], {
      runtime,
      resolveTag: registry.resolveTag,
      pullTimeoutMs: 60_000,
      concurrency: 1,
      onResult: (result) => seen.push(result),
    });
    expect(results.map((result) => [result.image, result.outcome, result.errorKind])).toEqual([
      [a.reference, "pulled", undefined],
      [b.reference, "failed", "network"],
      [c.reference, "pulled", undefined],
    ]);
    expect(seen.map((result) => result.image).sort()).toEqual([a.reference, b.reference, c.reference].sort());
  });
});
