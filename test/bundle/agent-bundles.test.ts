import { execFile } from "node:child_process";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentStatus } from "../../src/http/index.ts";
import { startAgentProcess } from "../agent/agent-process.ts";
import { ConfigMapVolume } from "../agent/config-map.ts";
import {
  type ContainerdInstance,
  type PushedImage,
  pushImage,
  type RegistryInstance,
  skopeoCopy,
  startContainerd,
  startRegistry,
} from "../sandbox/index.ts";

const run = promisify(execFile);

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let work: string;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  work = await mkdtemp(join(tmpdir(), "prepull-agent-bundles-"));
});

afterAll(async () => {
  await Promise.all([containerd.stop(), registry.stop(), rm(work, { recursive: true, force: true })]);
});

function setYaml(images: readonly PushedImage[]): string {
  const lines = images.flatMap((image) => [
    `    - image: ${image.reference}`,
    `      digest: ${image.digest}`,
  ]);
  return [
    "apiVersion: prepull/v1",
    "kind: ImageSet",
    "metadata:",
    "  name: edge",
    "spec:",
    "  images:",
    ...lines,
    "",
  ].join("\n");
}

function entryOf(status: AgentStatus, image: PushedImage) {
  return status.entries.find((entry) => entry.image === image.reference);
}

describe("the agent's bundles directory", () => {
  it("imports from bundles added to its directory, within seconds and with no registry, across a reload", async () => {
    const [first, second] = await Promise.all([
      pushImage(registry, {
        repository: "edge/first",
        tag: "1",
        layers: [{ size: 80_000, seed: "edge-first" }],
      }),
      pushImage(registry, {
        repository: "edge/second",
        tag: "1",
        layers: [{ size: 80_000, seed: "edge-second" }],
      }),
    ]);
    const bundles = join(work, "bundles");
    await run("mkdir", ["-p", bundles]);
    // Both images in one bundle, written beside the directory and moved in whole, as an operator would.
    const staged = join(work, "edge.tar");
    for (const image of [first, second]) {
      await skopeoCopy(image.reference, `oci-archive:${staged}`);
      if (image === first) await rename(staged, join(work, "first.tar"));
    }
    const volume = await ConfigMapVolume.create({ "set.yaml": setYaml([first]) });
    const agent = await startAgentProcess([
      "--config",
      volume.dir,
      "--runtime-endpoint",
      containerd.endpoint,
      "--resync",
      "1s",
      "--bundles",
      bundles,
      "--offline",
    ]);
    const canImport = containerd.runtime.major > 1 || containerd.runtime.minor >= 7;
    try {
      const missing = await agent.waitFor(
        (status) => entryOf(status, first)?.state === "failed",
        "the first entry failed: no bundle holds it",
      );
      expect(entryOf(missing, first)).toMatchObject({ errorKind: "not_found" });
      expect(entryOf(missing, first)?.message).toContain("no registry is used");
      expect(missing.runtime.support?.imports).toBe(canImport);

      // The set reloads with a second entry no bundle holds yet; then the first bundle arrives.
      await volume.update({ "set.yaml": setYaml([first, second]) });
      await agent.waitFor(
        (status) => entryOf(status, second)?.state === "failed",
        "the second entry failed too",
      );
      await rename(join(work, "first.tar"), join(bundles, "first.tar"));
      if (!canImport) {
        const refused = await agent.waitFor(
          (status) => entryOf(status, first)?.message?.includes("no transfer service") === true,
          "the first entry failed again: the runtime cannot import",
        );
        expect(entryOf(refused, first)).toMatchObject({ state: "failed", errorKind: "not_found" });
        return;
      }
      const partly = await agent.waitFor(
        (status) =>
          entryOf(status, first)?.state === "present" && entryOf(status, second)?.state === "failed",
        "the first entry imported from the added bundle, the second not in any bundle",
      );
      expect(entryOf(partly, first)).toMatchObject({ source: "bundle", digest: first.digest });

      await rename(staged, join(bundles, "edge.tar"));
      const warm = await agent.waitFor((status) => status.warm, "warm from the bundles");
      expect(entryOf(warm, second)).toMatchObject({ state: "present", source: "bundle" });
      const metrics = await agent.get("/metrics");
      expect(metrics.body).toMatch(/prepull_warmed_total\{source="bundle"\} 2/);
    } finally {
      await agent.stop("SIGKILL");
      await volume.remove();
    }
  });
});
