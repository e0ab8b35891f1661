import { describe, expect, it } from "vitest";
import { ClassifiedError } from "../failure/index.ts";
import { parseReference } from "../reference/index.ts";
import { executeEntryPlan, type TagResolver } from "./execute.ts";
import { ImageInventory } from "./inventory.ts";
import { planEntry, type WarmTarget } from "./plan.ts";
import { MemoryRegistry, MemoryRuntime, type PublishedImage } from "./testing/index.ts";

function target(image: string, digest?: string): WarmTarget {
  const reference = parseReference(image);
  return { image, reference, digest: digest ?? reference.digest };
}

function node() {
  const registry = new MemoryRegistry();
  const runtime = new MemoryRuntime({ registries: [registry] });
  /** Plans `entry` against the node's images now and carries the plan out. */
  const warm = async (entry: WarmTarget, deps: { resolveTag?: TagResolver; signal?: AbortSignal } = {}) => {
    const plan = planEntry(entry, new ImageInventory(await runtime.listImages()));
    return executeEntryPlan(plan, { runtime, pullTimeoutMs: 60_000, ...deps });
  };
  return { registry, runtime, warm };
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
