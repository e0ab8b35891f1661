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

/** The runtime's whole root lives on a 100 MiB tmpfs, so the disk guard meets a disk that fills. */
let smallFs: SmallFilesystem;
let containerd: ContainerdInstance;
let registry: RegistryInstance;
let runtime: ImageRuntime;
let registryClient: RegistryClient;

beforeAll(async () => {
  smallFs = await mountSmallFilesystem(100);
  [containerd, registry] = await Promise.all([startContainerd({ parentDir: smallFs.dir }), startRegistry()]);
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

function target(image: string): WarmTarget {
  const reference = parseReference(image);
  return { image, reference, digest: reference.digest };
}

// Images of tens of megabytes are built, pushed, pulled and unpacked: slow on a loaded machine.
describe("the disk guard on a small real filesystem", { timeout: 180_000 }, () => {
  it("prepull warm stops an image that unpacks far beyond its compressed size, and reports it blocked", async () => {
    const sparse = await pushImage(registry, {
      repository: "disk/sparse",
      tag: "1",
      layers: [{ size: 95 * 1024 * 1024, seed: "sparse", entropy: 0 }],
    });
    expect(sparse.platformSize).toBeLessThan(1024 * 1024);

    const run = await runPrepull([
      "warm",
      "--runtime-endpoint",
      containerd.endpoint,
      "-o",
      "json",
      sparse.reference,
    ]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as {
      images: Array<{ result: string; errorKind: string | null; message: string | null }>;
    };
    expect(report.images[0]).toMatchObject({ result: "blocked", errorKind: "disk" });
    expect(report.images[0]?.message).toContain("above the 80.0% limit");
    expect(await runtime.imageStatus(sparse.reference)).toBeUndefined();
    await expect.poll(usedRatio, { timeout: 15_000 }).toBeLessThan(0.8);
  });

  it("blocks the next try of an image it had to stop before pulling it again", async () => {
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
      sizeOf: async (reference: Parameters<RegistryClient["resolve"]>[0], signal: AbortSignal) =>
        (await registryClient.resolve(reference, { withSize: true, signal })).platformSize,
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
      sizeOf: async (reference: Parameters<RegistryClient["resolve"]>[0], signal: AbortSignal) => {
        const { platformSize } = await registryClient.resolve(reference, { withSize: true, signal });
        asked += 1;
        if (asked === 2) release();
        await bothAsked;
        return platformSize;
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
});
