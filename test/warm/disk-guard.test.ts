import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriClient } from "../../src/cri/index.ts";
import { parseReference } from "../../src/reference/index.ts";
import { createRegistryClient, type RegistryClient } from "../../src/registry/index.ts";
import {
  createDiskGuard,
  imageFilesystemOf,
  warmOnce,
  type ImageRuntime,
  type WarmTarget,
} from "../../src/warm/index.ts";
import { runPrepull } from "../cli/run-prepull.ts";
import {
  pushImage,
  mountSmallFilesystem,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type RegistryInstance,
  type SmallFilesystem,
} from "../sandbox/index.ts";

/**
 * The runtime's whole root lives on a 100 MiB tmpfs, so the disk guard meets a disk that fills.
 * Its snapshotter is overlayfs, as on nodes: the sandbox's usual native snapshotter copies every
 * parent layer into each snapshot, so an image of several layers would take far more than it
 * unpacks to.
 */
const CAPACITY = 100 * 1024 * 1024;
let smallFs: SmallFilesystem;
let containerd: ContainerdInstance;
let registry: RegistryInstance;
let runtime: ImageRuntime;
let registryClient: RegistryClient;

beforeAll(async () => {
  smallFs = await mountSmallFilesystem(CAPACITY / (1024 * 1024));
  [containerd, registry] = await Promise.all([
    startContainerd({ parentDir: smallFs.dir, snapshotter: "overlayfs" }),
    startRegistry(),
  ]);
  runtime = createCriClient({ endpoint: containerd.endpoint });
  registryClient = createRegistryClient({});
});

afterAll(async () => {
  runtime.close();
  await registryClient.close();
  await Promise.all([containerd.stop(), registry.stop()]);
  await smallFs.remove();
});

const usedRatio = (): Promise<number> => smallFs.usedRatio();

/** The highest share of the filesystem in use between `start` and `stop`, read every few ms. */
function sampleUse(): { stop(): Promise<number> } {
  let peak = 0;
  let reading: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    reading = usedRatio().then((ratio) => {
      peak = Math.max(peak, ratio);
    });
  }, 5);
  return {
    async stop() {
      clearInterval(timer);
      await reading;
      peak = Math.max(peak, await usedRatio());
      return peak;
    },
  };
}

type Reference = Parameters<RegistryClient["resolve"]>[0];

/** Removes what earlier tests left on the node and waits until the runtime has let go of it. */
async function emptyNode(): Promise<void> {
  for (const image of await runtime.listImages()) await runtime.removeImage(image.id);
  await expect.poll(usedRatio, { timeout: 15_000 }).toBeLessThan(0.05);
}

/** The size lookup the agent and `prepull warm` use. */
const sizeOf = async (reference: Reference, signal: AbortSignal) =>
  (await registryClient.resolve(reference, { withSize: true, signal })).pullSize;

function target(image: string): WarmTarget {
  const reference = parseReference(image);
  return { image, reference, digest: reference.digest };
}

// Images of tens of megabytes are built, pushed, pulled and unpacked: slow on a loaded machine.
describe("the disk guard on a small real filesystem", { timeout: 180_000 }, () => {
  it("prepull warm blocks an image that unpacks beyond the room left before pulling it, saying what it needs", async () => {
    const sparse = await pushImage(registry, {
      repository: "disk/sparse",
      tag: "1",
      layers: [{ size: 95 * 1024 * 1024, seed: "sparse", entropy: 0 }],
    });
    expect(sparse.platformSize).toBeLessThan(1024 * 1024);

    const use = sampleUse();
    const run = await runPrepull([
      "warm",
      "--runtime-endpoint",
      containerd.endpoint,
      "-o",
      "json",
      sparse.reference,
    ]);
    const peak = await use.stop();
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as {
      images: Array<{ result: string; errorKind: string | null; message: string | null }>;
    };
    expect(report.images[0]).toMatchObject({ result: "blocked", errorKind: "disk" });
    // Its gzip trailer tells what it unpacks to: it is never downloaded.
    expect(report.images[0]?.message).toContain("above the 80.0% limit: the pull needs 95.");
    expect(report.images[0]?.message).toMatch(
      /95\.0 MiB unpacked\) and there is room for [78]\d\.\d MiB under the limit$/,
    );
    expect(peak).toBeLessThan(0.05);
    expect(await runtime.imageStatus(sparse.reference)).toBeUndefined();
  });

  it("blocks the next try of an image of unknown unpacked size it had to stop before pulling it again", async () => {
    const sparse = await pushImage(registry, {
      repository: "disk/sparse-again",
      tag: "1",
      layers: [{ size: 95 * 1024 * 1024, seed: "sparse-again", entropy: 0 }],
    });
    const options = {
      runtime,
      concurrency: 1,
      pullTimeoutMs: 60_000,
      diskGuard: createDiskGuard({ threshold: 0.8, mountpoint: imageFilesystemOf(runtime) }),
      // Only the download size, as for layers whose unpacked size cannot be read (zstd).
      sizeOf: async (reference: Reference, signal: AbortSignal) => ({
        compressed: (await registryClient.resolve(reference, { withSize: true, signal })).platformSize,
      }),
    };
    const [first] = await warmOnce([target(sparse.reference)], options);
    expect(first).toMatchObject({ outcome: "blocked", errorKind: "disk", pulls: [sparse.reference] });
    expect(await runtime.imageStatus(sparse.reference)).toBeUndefined();
    await expect.poll(usedRatio, { timeout: 15_000 }).toBeLessThan(0.1);

    const [again] = await warmOnce([target(sparse.reference)], options);
    expect(again).toMatchObject({ outcome: "blocked", errorKind: "disk", pulls: [] });
    expect(again?.message).toContain("as its last pull showed");
  });

  it("reserves room for a pull in flight: of two that fit alone but not together, one waits", async () => {
    const [first, second] = await Promise.all(
      ["a", "b"].map((name) =>
        pushImage(registry, {
          repository: `disk/half-${name}`,
          tag: "1",
          // About 12 MB compressed, 35 MB unpacked: ~45% of the filesystem each.
          layers: [{ size: 35_000_000, seed: `half-${name}`, entropy: 1 / 3 }],
        }),
      ),
    );
    if (first === undefined || second === undefined) throw new Error("images not pushed");
    const guard = createDiskGuard({ threshold: 0.8, mountpoint: imageFilesystemOf(runtime) });
    // Both size lookups answer together, so both pulls reach the guard at the same moment.
    let asked = 0;
    let release = (): void => undefined;
    const bothAsked = new Promise<void>((resolve) => (release = resolve));
    const options = {
      runtime,
      concurrency: 2,
      pullTimeoutMs: 60_000,
      diskGuard: guard,
      sizeOf: async (reference: Reference, signal: AbortSignal) => {
        const size = await sizeOf(reference, signal);
        asked += 1;
        if (asked === 2) release();
        await bothAsked;
        return size;
      },
    };

    const results = await warmOnce([target(first.reference), target(second.reference)], options);
    const outcomes = results.map((result) => result.outcome).sort();
    expect(outcomes).toEqual(["blocked", "pulled"]);
    const blocked = results.find((result) => result.outcome === "blocked");
    const pulled = results.find((result) => result.outcome === "pulled");
    expect(blocked?.errorKind).toBe("disk");
    expect(blocked?.message).toContain("1 pull(s) in flight");
    expect(blocked?.pulls).toEqual([]);
    expect(await runtime.imageStatus(blocked?.image ?? "")).toBeUndefined();
    expect(await usedRatio()).toBeLessThan(0.8);

    // Alone, the one that waited fits.
    await runtime.removeImage(pulled?.image ?? "");
    await expect.poll(usedRatio, { timeout: 15_000 }).toBeLessThan(0.1);
    asked = 1;
    const [alone] = await warmOnce([target(blocked?.image ?? "")], options);
    expect(alone?.outcome).toBe("pulled");
    expect(await usedRatio()).toBeLessThan(0.8);
  });

  it("of two compressible images that fit alone but not together, pulled together, one waits: the filesystem stays under the limit", async () => {
    // Four layers of 10 MiB, mostly zeros: 2 MiB downloaded, 40 MiB unpacked each. The factor
    // alone would budget each at 10 MiB and let both through.
    const layer = 10 * 1024 * 1024;
    const [first, second] = await Promise.all(
      ["a", "b"].map((name) =>
        pushImage(registry, {
          repository: `disk/compressible-${name}`,
          tag: "1",
          layers: Array.from({ length: 4 }, (_, i) => ({
            size: layer,
            seed: `zeros-${name}-${i}`,
            entropy: 0.05,
          })),
        }),
      ),
    );
    if (first === undefined || second === undefined) throw new Error("images not pushed");
    const learned = await registryClient.resolve(parseReference(first.reference), { withSize: true });
    expect(learned.pullSize?.compressed).toBeLessThan(4 * 1024 * 1024);
    expect(learned.pullSize?.uncompressed).toBeGreaterThan(4 * layer);
    expect(learned.pullSize?.unsized).toBe(0);

    await emptyNode();
    const guard = createDiskGuard({ threshold: 0.8, mountpoint: imageFilesystemOf(runtime) });
    let asked = 0;
    let release = (): void => undefined;
    const bothAsked = new Promise<void>((resolve) => (release = resolve));
    const options = {
      runtime,
      concurrency: 2,
      pullTimeoutMs: 60_000,
      diskGuard: guard,
      sizeOf: async (reference: Reference, signal: AbortSignal) => {
        const size = await sizeOf(reference, signal);
        asked += 1;
        if (asked === 2) release();
        await bothAsked;
        return size;
      },
    };
    const use = sampleUse();
    const results = await warmOnce([target(first.reference), target(second.reference)], options);
    const peak = await use.stop();
    expect(results.map((result) => result.outcome).sort()).toEqual(["blocked", "pulled"]);
    const blocked = results.find((result) => result.outcome === "blocked");
    expect(blocked).toMatchObject({ errorKind: "disk", pulls: [] });
    expect(blocked?.message).toContain("1 pull(s) in flight");
    // Past the threshold by at most the layer being unpacked; here not at all.
    expect(peak).toBeLessThan(0.8 + layer / CAPACITY);
    expect(peak).toBeLessThan(0.8);

    // With the first on the node, the second cannot fit even alone: it is not pulled.
    const [again] = await warmOnce([target(blocked?.image ?? "")], { ...options, sizeOf });
    expect(again).toMatchObject({ outcome: "blocked", errorKind: "disk", pulls: [] });
    expect(again?.message).toMatch(
      /the pull needs 4\d\.\d MiB \(.* to download, 4\d\.\d MiB unpacked\) and there is room for 3\d\.\d MiB under the limit$/,
    );
    expect(await runtime.imageStatus(blocked?.image ?? "")).toBeUndefined();
  });
});
