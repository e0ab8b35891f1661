import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriClient } from "../../src/cri/index.ts";
import type { ImageRuntime } from "../../src/warm/index.ts";
import { mountSmallFilesystem, type PushedImage, type SmallFilesystem } from "../sandbox/index.ts";
import { createNamespace, startCluster, waitFor, type Cluster } from "./harness/index.ts";
import {
  filesystemUsage,
  imagesCollected,
  kubeletLines,
  mib,
  nodeEvents,
  pinnedSkipsByKubelet,
  removalsByKubelet,
} from "./image-gc-node.ts";
import {
  expectedPinReasons,
  pullByHand,
  pushStaged,
  runAndDelete,
  runWithoutPulling,
  startWarmingAgent,
  type Staged,
  type WarmingAgent,
} from "./image-gc-stage.ts";

/** The containerd root lives on this: kubelet's GC and the pin budget both measure it. */
const FILESYSTEM_MB = 256;
/** 17% of 256 MiB: the two 16 MiB entries and the 3 MiB one fit, the third 16 MiB one does not. */
const PIN_BUDGET = 17;
/** Debug lines of the image GC manager: which images it skips as pinned. */
const GC_LOGGING = { vmodule: [{ filePattern: "image_gc_manager", verbosity: 5 }] };

interface GcNode {
  small: SmallFilesystem;
  cluster: Cluster;
  cri: ImageRuntime;
  agent?: WarmingAgent;
}

/** One cluster per scenario, its containerd root on a small filesystem of its own. */
function nodeWith(kubeletConfig: Record<string, unknown>): GcNode {
  const node = {} as GcNode;
  beforeAll(async () => {
    node.small = await mountSmallFilesystem(FILESYSTEM_MB);
    node.cluster = await startCluster({ containerdParentDir: node.small.dir, kubeletConfig });
    node.cri = createCriClient({ endpoint: node.cluster.node.containerd.endpoint });
  });
  // Whatever beforeAll got to start, when it failed halfway.
  const started: Partial<GcNode> = node;
  afterAll(async () => {
    await started.agent?.stop();
    started.cri?.close();
    await started.cluster?.stop();
    await started.small?.remove();
  });
  return node;
}

const present = async (node: GcNode, image: PushedImage) => node.cri.imageStatus(image.reference);

/** What prepull decided, what kubelet skipped, what stayed: the same for both ways of collecting. */
async function expectPinnedKept(node: GcNode, staged: Staged): Promise<void> {
  const removed = await removalsByKubelet(node.cluster);
  const skipped = await pinnedSkipsByKubelet(node.cluster);
  for (const image of [staged.pinnedA, staged.pinnedB, staged.pinnedSmall]) {
    expect(await present(node, image)).toMatchObject({ id: image.configDigest, pinned: true });
    expect(skipped).toContain(image.configDigest);
    expect(removed.has(image.configDigest)).toBe(false);
  }
  for (const image of [staged.ran, staged.byHand]) expect(await present(node, image)).toBeUndefined();
}

/** The agent pulls an over-budget entry kubelet removed again at its next pass: still unpinned. */
async function expectOverBudgetPulledAgain(node: GcNode, staged: Staged): Promise<void> {
  const agent = node.agent?.agent;
  await waitFor("the agent to pull the over-budget entry again", async () => {
    const pulls = agent?.logs.filter((l) => l.msg === "pulled" && l.image === staged.overBudget.reference);
    return (pulls?.length ?? 0) >= 2 && (await present(node, staged.overBudget)) !== undefined;
  });
  expect(await present(node, staged.overBudget)).toMatchObject({ pinned: false });
}

async function stage(node: GcNode, prefix: string): Promise<Staged> {
  const staged = await pushStaged(node.cluster, prefix, { big: 16, small: 3 });
  await createNamespace(node.cluster.api, prefix);
  return staged;
}

/** The pod runs first, then the agent warms and pins its set. */
async function warm(node: GcNode, staged: Staged, namespace: string): Promise<void> {
  await runAndDelete(node.cluster, namespace, staged.ran);
  node.agent = await startWarmingAgent(node.cluster, staged, PIN_BUDGET);
  const { settled } = node.agent;
  expect(settled.pins.budgetBytes).toBe(Math.floor(FILESYSTEM_MB * 1024 * 1024 * (PIN_BUDGET / 100)));
  expect(settled.entries.map((entry) => entry.pinReason)).toEqual(expectedPinReasons(settled));
  expect(settled.entries.map((entry) => entry.pinReason)).toEqual(["pinned", "pinned", "budget", "pinned"]);
}

const seconds = (from: Date, to: Date): number => Math.round((to.getTime() - from.getTime()) / 100) / 10;

describe("kubelet's image GC under disk pressure (imagefs over the eviction threshold)", () => {
  const node = nodeWith({
    // The periodic pass (every 5 min, kubelet.go ImageGCPeriod) would free down to 50%; the
    // eviction manager, every 10 s, frees every unused image as soon as imagefs is below 40% free.
    imageGCHighThresholdPercent: 60,
    imageGCLowThresholdPercent: 50,
    imageMinimumGCAge: "1s",
    evictionHard: { "memory.available": "50Mi", "imagefs.available": "40%" },
    logging: GC_LOGGING,
  });

  it("removes the unused unpinned images and the entry beyond the budget; the pinned ones stay", async () => {
    const staged = await stage(node, "gc-space");
    await warm(node, staged, "gc-space");
    const before = await filesystemUsage(node.small.dir);
    expect(before.usedPercent).toBeLessThan(60);

    const pulledAt = new Date();
    await pullByHand(node.cluster, staged.byHand);
    const full = await filesystemUsage(node.small.dir);
    expect(full.usedPercent).toBeGreaterThan(60);
    expect(await present(node, staged.byHand)).toMatchObject({
      id: staged.byHand.configDigest,
      pinned: false,
    });

    const collected = [staged.ran, staged.byHand, staged.overBudget].map((image) => image.configDigest);
    await waitFor(
      "kubelet to remove the unpinned images",
      async () => {
        const removed = await removalsByKubelet(node.cluster);
        return collected.every((id) => removed.has(id));
      },
      120_000,
    );
    const removed = await removalsByKubelet(node.cluster);
    const after = await filesystemUsage(node.small.dir);
    await expectPinnedKept(node, staged);
    expect(await imagesCollected(node.cluster)).toEqual({ age: 0, space: 3 });
    expect(await nodeEvents(node.cluster)).toContain(
      "EvictionThresholdMet: Attempting to reclaim ephemeral-storage",
    );
    // The reclaim was enough: the pins left kubelet room to free, no pod had to be evicted.
    expect(
      await kubeletLines(node.cluster, /able to reduce resource pressure without evicting pods/),
    ).not.toEqual([]);
    expect(after.usedPercent).toBeLessThan(60);
    await expectOverBudgetPulledAgain(node, staged);

    const times = [...removed.values()].map(Number);
    process.stdout.write(
      `disk pressure: ${mib(full.sizeBytes)} filesystem; ${before.usedPercent}% used before the last pull, ` +
        `${full.usedPercent}% after it (+${mib(full.usedBytes - before.usedBytes)} for ${mib(staged.byHand.platformSize)} of layers), ` +
        `${after.usedPercent}% after GC (${mib(after.usedBytes)}, pins ${mib(node.agent?.settled.pins.bytes ?? 0)} by CRI size); ` +
        `removed ${seconds(pulledAt, new Date(Math.min(...times)))}-${seconds(pulledAt, new Date(Math.max(...times)))} s after the pull\n`,
    );
  });
});

describe("kubelet's image GC by age (imageMaximumGCAge), the disk thresholds out of the way", () => {
  const MAX_AGE_S = 240;
  const node = nodeWith({
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    imageMinimumGCAge: "1s",
    imageMaximumGCAge: `${MAX_AGE_S}s`,
    logging: GC_LOGGING,
  });

  it(
    "removes the unpinned images at the first pass after imageMaximumGCAge of uptime, however new",
    { timeout: 480_000 },
    async () => {
      const [started] = await kubeletLines(node.cluster, /FLAG: --config=/);
      if (started === undefined) throw new Error("kubelet's log has no start line");
      const staged = await stage(node, "gc-age");
      // Pulled 100 s or more after kubelet started: at its pass 300 s in, younger than 240 s.
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, started.at.getTime() + 100_000 - Date.now())),
      );
      const stagedAt = new Date();
      await warm(node, staged, "gc-age");
      await pullByHand(node.cluster, staged.byHand);
      const before = await filesystemUsage(node.small.dir);

      const collected = [staged.ran, staged.byHand, staged.overBudget].map((image) => image.configDigest);
      await waitFor(
        "kubelet's periodic GC to remove the unpinned images",
        async () => {
          const removed = await removalsByKubelet(node.cluster);
          return collected.every((id) => removed.has(id));
        },
        Math.max(0, started.at.getTime() + 400_000 - Date.now()),
      );
      const removed = await removalsByKubelet(node.cluster);
      const after = await filesystemUsage(node.small.dir);
      for (const id of collected) {
        const at = removed.get(id) ?? new Date(Number.NaN);
        expect(seconds(stagedAt, at)).toBeLessThan(MAX_AGE_S);
        expect(seconds(started.at, at)).toBeGreaterThan(MAX_AGE_S);
      }
      await expectPinnedKept(node, staged);
      expect(await imagesCollected(node.cluster)).toEqual({ age: 3, space: 0 });
      const events = await nodeEvents(node.cluster);
      expect(
        events.filter((event) => /^(ImageGCFailed|FreeDiskSpaceFailed|EvictionThresholdMet)/.test(event)),
      ).toEqual([]);
      await expectOverBudgetPulledAgain(node, staged);

      expect(await runWithoutPulling(node.cluster, "gc-age", "pinned", staged.pinnedA)).toBe("started");
      expect(await runWithoutPulling(node.cluster, "gc-age", "collected", staged.byHand)).toBe(
        "ErrImageNeverPull",
      );
      const times = [...removed.values()].map(Number);
      process.stdout.write(
        `age: ${before.usedPercent}% of ${mib(before.sizeBytes)} used before GC, ${after.usedPercent}% after; removed ` +
          `${seconds(started.at, new Date(Math.min(...times)))}-${seconds(started.at, new Date(Math.max(...times)))} s after kubelet started, ` +
          `${seconds(stagedAt, new Date(Math.min(...times)))} s after the first pull\n`,
      );
    },
  );
});
