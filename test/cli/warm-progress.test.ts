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
import { runPrepull } from "./run-prepull.ts";

const MiB = 1024 * 1024;

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let slow: FaultServer;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  // Blobs at 1 MiB/s: a pull of a few MiB runs long enough for several progress lines.
  slow = await startThrottledBlobProxy(registry, MiB);
});

afterAll(async () => {
  await Promise.all([containerd.stop(), slow.close(), registry.stop()]);
});

describe("prepull warm's progress display", () => {
  it(
    "prints the bytes of a long pull growing, from containerd's content store",
    { timeout: 90_000 },
    async () => {
      await pushImage(registry, {
        repository: "warm-progress/app",
        tag: "1",
        layers: [{ size: 6 * MiB, seed: "warm-progress" }],
      });
      const run = await runPrepull([
        "warm",
        "--runtime-endpoint",
        containerd.endpoint,
        `${slow.host}/warm-progress/app:1`,
      ]);
      expect(run.code).toBe(0);
      const done = [
        ...run.stderr.matchAll(/^pulling \S+warm-progress\/app:1: ([\d.]+) MB of ([\d.]+) MB$/gm),
      ].map((match) => Number(match[1]));
      expect(done.length).toBeGreaterThanOrEqual(2);
      expect(done).toEqual([...done].sort((a, b) => a - b));
      expect(new Set(done).size).toBe(done.length);
      expect(run.stderr).toMatch(/\[1\/1\] pulled/);
    },
  );
});
