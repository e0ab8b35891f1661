import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  pushImage,
  startContainerd,
  startThrottledBlobProxy,
  startRegistry,
  type ContainerdInstance,
  type FaultServer,
  type RegistryInstance,
} from "../sandbox/index.ts";
import { startAgentProcess, type AgentProcess } from "./agent-process.ts";
import { ConfigMapVolume, imageSetYaml } from "./config-map.ts";

const MiB = 1024 * 1024;

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let slow: FaultServer;
let agent: AgentProcess | undefined;
let volume: ConfigMapVolume | undefined;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  // Blobs at 1 MiB/s: a pull of a few MiB runs long enough for several progress readings.
  slow = await startThrottledBlobProxy(registry, MiB);
});

afterAll(async () => {
  await agent?.stop("SIGKILL");
  await volume?.remove();
  await Promise.all([containerd.stop(), slow.close(), registry.stop()]);
});

describe(`pull progress in the agent's status on ${process.env.PREPULL_TEST_RUNTIME ?? "containerd-2"}`, () => {
  it(
    "shows the bytes of a pulling entry growing, and no progress once it is present",
    { timeout: 90_000 },
    async () => {
      const pushed = await pushImage(registry, {
        repository: "agent-progress/app",
        tag: "1",
        layers: [{ size: 4.5 * MiB, seed: "agent-progress" }],
      });
      const image = `${slow.host}/agent-progress/app:1`;
      volume = await ConfigMapVolume.create({
        "set.yaml": imageSetYaml("progress", [{ image, digest: pushed.digest }]),
      });
      agent = await startAgentProcess([
        "--config",
        volume.dir,
        "--runtime-endpoint",
        containerd.endpoint,
        "--node-name",
        "node-a",
      ]);

      const seen: Array<{ doneBytes: number; totalBytes: number }> = [];
      for (;;) {
        const status = await agent.status();
        const entry = status.entries[0];
        if (entry?.state === "present") {
          expect(entry.progress).toBeNull();
          break;
        }
        if (entry?.progress != null) seen.push(entry.progress);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }

      const done = seen.map((progress) => progress.doneBytes);
      expect(new Set(done).size).toBeGreaterThanOrEqual(2);
      expect(done).toEqual([...done].sort((a, b) => a - b));
      expect(seen.every((progress) => progress.doneBytes <= progress.totalBytes)).toBe(true);
      expect(Math.max(...seen.map((progress) => progress.totalBytes))).toBeGreaterThanOrEqual(4 * MiB);
    },
  );
});
