import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriClient } from "../../src/cri/index.ts";
import type { ImageRuntime } from "../../src/warm/index.ts";
import {
  pushImage,
  mountSmallFilesystem,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type RegistryInstance,
  type SmallFilesystem,
} from "../sandbox/index.ts";
import { startAgentProcess } from "./agent-process.ts";
import { ConfigMapVolume, imageSetYaml } from "./config-map.ts";

/** containerd's root on a 100 MiB tmpfs: the agent's disk guard meets a disk that fills. */
let smallFs: SmallFilesystem;
let containerd: ContainerdInstance;
let registry: RegistryInstance;
let runtime: ImageRuntime;

beforeAll(async () => {
  smallFs = await mountSmallFilesystem(100);
  [containerd, registry] = await Promise.all([startContainerd({ parentDir: smallFs.dir }), startRegistry()]);
  runtime = createCriClient({ endpoint: containerd.endpoint });
});

afterAll(async () => {
  runtime.close();
  await Promise.all([containerd.stop(), registry.stop()]);
  await smallFs.remove();
});

const usedRatio = (): Promise<number> => smallFs.usedRatio();

describe("the agent's disk guard on a small real filesystem", { timeout: 180_000 }, () => {
  it("keeps back an image that unpacks past the threshold, reports it blocked, and warms the rest", async () => {
    const [sparse, small] = await Promise.all([
      pushImage(registry, {
        repository: "agent-disk/sparse",
        tag: "1",
        layers: [{ size: 95 * 1024 * 1024, seed: "agent-sparse", entropy: 0 }],
      }),
      pushImage(registry, {
        repository: "agent-disk/small",
        tag: "1",
        layers: [{ size: 4096, seed: "small" }],
      }),
    ]);
    const volume = await ConfigMapVolume.create({
      "set.yaml": imageSetYaml("disk", [sparse.reference, small.reference]),
    });
    const agent = await startAgentProcess([
      "--config",
      volume.dir,
      "--runtime-endpoint",
      containerd.endpoint,
      "--node-name",
      "node-disk",
    ]);
    try {
      const status = await agent.waitFor(
        (s) =>
          s.entries.some((e) => e.image === sparse.reference && e.state === "blocked") &&
          s.entries.some((e) => e.image === small.reference && e.state === "present"),
        "the sparse image blocked and the small one present",
        90_000,
      );
      const blocked = status.entries.find((e) => e.image === sparse.reference);
      expect(blocked).toMatchObject({ errorKind: "disk", attempts: 1 });
      // Its gzip trailer says what it unpacks to, so it is refused before it is downloaded.
      expect(blocked?.message).toContain("above the 80.0% limit: the pull needs 95.");
      expect(Date.parse(blocked?.nextRetryAt ?? "")).toBeGreaterThan(Date.now());
      expect(status.warm).toBe(false);
      // A pull stopped just as the runtime recorded it leaves an image the agent then removes.
      await expect.poll(() => runtime.imageStatus(sparse.reference), { timeout: 15_000 }).toBeUndefined();
      await expect.poll(usedRatio, { timeout: 15_000 }).toBeLessThan(0.8);
    } finally {
      await agent.stop("SIGKILL");
      await volume.remove();
    }
  });
});
