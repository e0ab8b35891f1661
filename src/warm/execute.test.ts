import { describe, expect, it } from "vitest";
import { ClassifiedError } from "../failure/index.ts";
import { parseReference } from "../reference/index.ts";
import { executeEntryPlan, type TagResolver } from "./execute.ts";
import { ImageInventory } from "./inventory.ts";
import { planEntry, type WarmTarget } from "./plan.ts";
import type { ImageNamer } from "./ports.ts";
import { MemoryRegistry, MemoryRuntime, type PublishedImage } from "./testing/index.ts";

function target(image: string, digest?: string): WarmTarget {
  const reference = parseReference(image);
  return { image, reference, digest: digest ?? reference.digest };
}

function node() {
  const registry = new MemoryRegistry();
  const runtime = new MemoryRuntime({ registries: [registry] });
  /** Plans `entry` against the node's images now and carries the plan out. */
  const warm = async (
    entry: WarmTarget,
    deps: { resolveTag?: TagResolver; signal?: AbortSignal; namer?: ImageNamer } = {},
    recheckMs?: readonly number[],
  ) => {
    const plan = planEntry(entry, new ImageInventory(await runtime.listImages()));
    return executeEntryPlan(plan, { runtime, pullTimeoutMs: 60_000, ...deps }, recheckMs);
  };
  /**
   * Names as containerd's images service does, through the runtime's store: CRI reports the name
   * only `lagMs` later, as containerd's CRI learns of it from an event.
   */
  const namer = (lagMs = 0): ImageNamer & { calls: string[] } => {
    const calls: string[] = [];
    return {
      calls,
      tagImage(name, from) {
        calls.push(`${name} <- ${from}`);
        const record = runtime.store.record(from);
        if (record === undefined)
          return Promise.reject(new ClassifiedError("not_found", `${from}: no record`));
        setTimeout(() => {
          runtime.store.put(name, record.manifest, { "io.cri-containerd.image": "managed" });
        }, lagMs);
        return Promise.resolve();
      },
    };
  };
  return { registry, runtime, warm, namer };
}

const digestName = (image: PublishedImage): string => `${image.repository}@${image.digest}`;

describe("executeEntryPlan", () => {
  it("pulls a locked image by digest, then its tag once the registry confirms it, and reports what kubelet finds", async () => {
    const { registry, runtime, warm } = node();
    const api = registry.publish("team/api", "v1", { size: 4_096 });
    const result = await warm(target(api.reference, api.digest), { resolveTag: registry.resolveTag });
    expect(result).toMatchObject({
      outcome: "pulled",
      digest: api.digest,
      imageId: api.configDigest,
      size: 4_096,
      pulls: [digestName(api), api.reference],
      errorKind: undefined,
    });
    expect((await runtime.imageStatus(api.reference))?.repoDigests).toEqual([digestName(api)]);
  });

  it("reports drift and leaves the tag alone when the registry says it moved", async () => {
    const { registry, runtime, warm } = node();
    const locked = registry.publish("team/api", "v1");
    const moved = registry.publish("team/api", "v1");
    const result = await warm(target(locked.reference, locked.digest), { resolveTag: registry.resolveTag });
    expect(result).toMatchObject({
      outcome: "drifted",
      registryDigest: moved.digest,
      pulls: [digestName(locked)],
      errorKind: undefined,
    });
    expect(result.message).toContain("prepull lock --update");
    expect(await runtime.imageStatus(locked.reference)).toBeUndefined();
    expect((await runtime.imageStatus(digestName(locked)))?.id).toBe(locked.configDigest);
  });

  it("with no registry to ask, pulls the tag and reports drift from what the runtime recorded", async () => {
    const { registry, runtime, warm } = node();
    const locked = registry.publish("team/api", "v1");
    const moved = registry.publish("team/api", "v1");
    const result = await warm(target(locked.reference, locked.digest));
    expect(result).toMatchObject({
      outcome: "drifted",
      registryDigest: moved.digest,
      pulls: [digestName(locked), locked.reference],
    });
    expect((await runtime.imageStatus(locked.reference))?.id).toBe(moved.configDigest);
  });

  it("trusts the digest the runtime records for an entry without a lock", async () => {
    const { registry, warm } = node();
    const api = registry.publish("team/api", "v1");
    const result = await warm(target(api.reference));
    expect(result).toMatchObject({
      outcome: "pulled",
      digest: api.digest,
      imageId: api.configDigest,
      pulls: [api.reference],
    });
  });

  it("syncs only the tag of an image the node holds by digest", async () => {
    const { registry, runtime, warm } = node();
    const api = registry.publish("team/api", "v1");
    await runtime.pullImage(digestName(api));
    const result = await warm(target(api.reference, api.digest), { resolveTag: registry.resolveTag });
    expect(result).toMatchObject({ outcome: "pulled", pulls: [api.reference] });
    expect(runtime.pulls()).toEqual([digestName(api), api.reference]);
  });

  it("fails with the runtime's classified error, listing the pulls it issued", async () => {
    const { registry, runtime, warm } = node();
    const api = registry.publish("team/api", "v1");
    runtime.failPulls(
      digestName(api),
      new ClassifiedError("auth", `PullImage ${digestName(api)}: 401 Unauthorized`),
    );
    const result = await warm(target(api.reference, api.digest), { resolveTag: registry.resolveTag });
    expect(result).toMatchObject({
      outcome: "failed",
      errorKind: "auth",
      message: `PullImage ${digestName(api)}: 401 Unauthorized`,
      pulls: [digestName(api)],
    });
    expect(await runtime.listImages()).toEqual([]);
  });

  it("fails verification, naming both digests, when the tag moves between the registry's answer and the pull", async () => {
    const { registry, warm } = node();
    const locked = registry.publish("team/api", "v1");
    let moved: PublishedImage | undefined;
    const racing: TagResolver = async (reference, signal) => {
      const answer = await registry.resolveTag(reference, signal);
      moved = registry.publish("team/api", "v1");
      return answer;
    };
    const result = await warm(target(locked.reference, locked.digest), { resolveTag: racing });
    expect(result.outcome).toBe("failed");
    expect(result.errorKind).toBe("runtime");
    expect(result.message).toContain(`${locked.repository}@${moved?.digest ?? "?"}`);
    expect(result.message).toContain(`not ${digestName(locked)}`);
  });

  it("checks the tag of a name:tag@digest entry separately, as kubelet's lookup ignores it", async () => {
    const { registry, runtime, warm } = node();
    const api = registry.publish("team/api", "v1");
    const result = await warm(target(`${api.reference}@${api.digest}`), { resolveTag: registry.resolveTag });
    expect(result).toMatchObject({ outcome: "pulled", pulls: [digestName(api), api.reference] });
    expect((await runtime.imageStatus(api.reference))?.id).toBe(api.configDigest);
  });

  it("with a namer, names the confirmed tag after the digest instead of pulling it, and waits for CRI to report it", async () => {
    const { registry, runtime, warm, namer } = node();
    const api = registry.publish("team/api", "v1", { size: 4_096 });
    const naming = namer(50);
    const result = await warm(target(api.reference, api.digest), {
      resolveTag: registry.resolveTag,
      namer: naming,
    });
    expect(result).toMatchObject({
      outcome: "pulled",
      digest: api.digest,
      imageId: api.configDigest,
      size: 4_096,
      pulls: [digestName(api)],
      source: "registry",
      errorKind: undefined,
    });
    expect(naming.calls).toEqual([`${api.reference} <- ${digestName(api)}`]);
    expect(runtime.pulls()).toEqual([digestName(api)]);
    expect((await runtime.imageStatus(api.reference))?.repoDigests).toEqual([digestName(api)]);
  });

  it("with a namer, syncs the tag of an image held by digest with no pull at all, name:tag@digest too", async () => {
    const { registry, runtime, warm, namer } = node();
    const api = registry.publish("team/api", "v1");
    await runtime.pullImage(digestName(api));
    const result = await warm(target(`${api.reference}@${api.digest}`), {
      resolveTag: registry.resolveTag,
      namer: namer(20),
    });
    expect(result).toMatchObject({ outcome: "pulled", pulls: [], imageId: api.configDigest });
    expect(runtime.pulls()).toEqual([digestName(api)]);
    expect((await runtime.imageStatus(api.reference))?.id).toBe(api.configDigest);
  });

  it("pulls the tag when the namer fails, and never names a tag the registry moved", async () => {
    const { registry, runtime, warm, namer } = node();
    const api = registry.publish("team/api", "v1");
    const failing: ImageNamer = {
      tagImage: () => Promise.reject(new ClassifiedError("runtime", "Create: already exists")),
    };
    const result = await warm(target(api.reference, api.digest), {
      resolveTag: registry.resolveTag,
      namer: failing,
    });
    expect(result).toMatchObject({ outcome: "pulled", pulls: [digestName(api), api.reference] });

    const locked = registry.publish("team/web", "v1");
    registry.publish("team/web", "v1");
    const naming = namer();
    const drifted = await warm(target(locked.reference, locked.digest), {
      resolveTag: registry.resolveTag,
      namer: naming,
    });
    expect(drifted).toMatchObject({ outcome: "drifted", pulls: [digestName(locked)] });
    expect(naming.calls).toEqual([]);
    expect(await runtime.imageStatus(locked.reference)).toBeUndefined();
  });

  it("fails the check after its bounded wait when CRI never reports the named tag", async () => {
    const { registry, warm } = node();
    const api = registry.publish("team/api", "v1");
    const silent: ImageNamer = { tagImage: () => Promise.resolve() };
    const started = performance.now();
    const result = await warm(
      target(api.reference, api.digest),
      { resolveTag: registry.resolveTag, namer: silent },
      [10, 20],
    );
    expect(result).toMatchObject({ outcome: "failed", errorKind: "runtime", pulls: [digestName(api)] });
    expect(result.message).toContain("does not find the image after warming it");
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it("fails with the cancel's reason when cancelled mid-pull, and the runtime records nothing", async () => {
    const { registry, runtime, warm } = node();
    const api = registry.publish("team/api", "v1");
    const hold = runtime.holdPull(digestName(api));
    const controller = new AbortController();
    const warming = warm(target(api.reference, api.digest), { signal: controller.signal });
    await hold.reached;
    controller.abort(new Error("the entry left the desired set"));
    expect(await warming).toMatchObject({
      outcome: "failed",
      errorKind: "runtime",
      message: "the entry left the desired set",
      pulls: [digestName(api)],
    });
    expect(await runtime.listImages()).toEqual([]);
  });
});
