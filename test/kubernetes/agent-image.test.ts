import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AgentStatus } from "../../src/http/index.ts";
import { startAgentProcess } from "../agent/agent-process.ts";
import type { PushedImage } from "../sandbox/index.ts";
import { agentCluster } from "./agent-cluster.ts";
import {
  compileCacheUse,
  imageSetOf,
  median,
  pinnedStatus,
  processStartMs,
  readyAgentPod,
  taskPid,
} from "./agent-image-support.ts";
import { waitFor, type Pod } from "./harness/index.ts";

// The agent's image built from the Dockerfile as users build it (buildah, no daemon), pushed to
// the sandbox registry, and deploy/base applied with it: the DaemonSet's pod runs on the real
// kubelet, on a read-only root filesystem with every capability dropped, and warms the ImageSet
// its ConfigMap holds through the node's containerd.
const NAMESPACE = "prepull";
const env = agentCluster({
  // kubelet refreshes a pod's ConfigMap volumes at each pod sync: every 10 s here, not 1 min.
  kubeletConfig: { syncFrequency: "10s" },
  workloads: [
    { repository: "warm/api", tag: "v1", size: 4096, seed: "api" },
    { repository: "warm/web", tag: "v2", size: 4096, seed: "web" },
  ],
});
/** The ImageSet the ConfigMap holds now. */
let currentSet: readonly PushedImage[] = [];

/** Seconds from the container's process start to the end of the agent's first pass. */
async function podStartToFirstPass(pod: Pod, status: AgentStatus): Promise<number> {
  const containerId = (pod.status?.containerStatuses?.[0]?.containerID ?? "").replace(/^containerd:\/\//, "");
  const pid = taskPid(await env.cluster.node.containerd.ctr(["tasks", "ls"]), containerId);
  const started = await processStartMs(pid);
  if (status.lastPass === null) throw new Error("no pass yet");
  return (Date.parse(status.lastPass.at) + status.lastPass.seconds * 1000 - started) / 1000;
}

async function deleteAgentPod(pod: Pod): Promise<void> {
  await env.cluster.kubectl(["delete", "pod", "-n", NAMESPACE, pod.metadata?.name ?? "", "--wait=true"]);
}

async function apply(
  vars?: Record<string, string>,
  set: readonly PushedImage[] = currentSet.length > 0 ? currentSet : env.images,
  agentImage?: string,
): Promise<void> {
  currentSet = set;
  await env.deploy({
    imageSet: imageSetOf("agent-image-test", set),
    // With the disk guard's view of the image filesystem, the agent has a pin budget and pins.
    imageFsDir: join(env.cluster.node.containerd.root, "prepull-statfs"),
    ...(vars ? { env: vars } : {}),
    ...(agentImage === undefined ? {} : { agentImage }),
  });
}

describe("the agent's image, built from the Dockerfile, as the DaemonSet of deploy/base", () => {
  it("becomes Ready and warms the ImageSet of its ConfigMap through the node's containerd", async () => {
    env.reportOnFailure();
    const { cluster, image, images: warmed } = env;
    process.stdout.write(
      `agent image ${image.reference}: ${image.size} unpacked, built and pushed in ${image.buildSeconds.toFixed(1)} s\n`,
    );
    await apply();
    const pod = await readyAgentPod(cluster);
    expect(pod.spec?.containers[0]?.image).toBe(image.reference);
    const status = await env.warmStatus(pod);
    expect(status.config.sets).toEqual(["agent-image-test"]);
    expect(status.runtime.reachable).toBe(true);
    expect(status.summary).toMatchObject({ present: 2, failed: 0, total: 2 });
    expect((await pinnedStatus(() => env.agentStatus(pod))).entries.map((entry) => entry.pinned)).toEqual([
      true,
      true,
    ]);
    expect(await env.pinnedOnNode()).toEqual(
      expect.arrayContaining(warmed.map((w) => `${w.repository}@${w.digest}`)),
    );

    const listed = await cluster.node.containerd.ctr(["images", "ls"]);
    for (const pushed of warmed) {
      const line = listed.split("\n").find((row) => row.startsWith(`${pushed.repository}@${pushed.digest} `));
      expect(line, `${pushed.reference} in the node's containerd`).toContain(pushed.digest);
    }
    process.stdout.write(
      `pod start to first pass, pulling 2 images: ${(await podStartToFirstPass(pod, status)).toFixed(2)} s\n`,
    );
  });

  it("a new pod finds the set warm and pulls nothing; start to first pass reported against the checkout", async () => {
    const { cluster, images: warmed } = env;
    const inPod: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      const old = await readyAgentPod(cluster);
      await deleteAgentPod(old);
      const pod = await readyAgentPod(cluster, old.metadata?.name);
      const status = await env.warmStatus(pod);
      // The node kept the images: the new agent's first pass found every entry present.
      expect(status.entries.map((entry) => [entry.state, entry.lastPullSeconds])).toEqual(
        warmed.map(() => ["present", null]),
      );
      inPod.push(await podStartToFirstPass(pod, status));
    }

    // The checkout, as BENCHMARKS.md measures it: spawn to the end of the first pass, the same
    // Node options as the image, the same set and containerd, its own compile cache warmed first.
    const dir = await mkdtemp(join(tmpdir(), "prepull-agent-image-set-"));
    await writeFile(join(dir, "set.yaml"), imageSetOf("agent-image-test", warmed));
    const checkout: number[] = [];
    try {
      for (let round = 0; round < 4; round += 1) {
        const spawned = Date.now();
        const agent = await startAgentProcess(
          ["--config", dir, "--runtime-endpoint", cluster.node.containerd.endpoint, "--log-level", "info"],
          { NODE_OPTIONS: "--max-semi-space-size=1" },
        );
        try {
          const { lastPass } = await agent.waitFor((s) => s.warm && s.lastPass !== null, "the first pass");
          if (round > 0 && lastPass !== null)
            checkout.push((Date.parse(lastPass.at) + lastPass.seconds * 1000 - spawned) / 1000);
        } finally {
          await agent.stop();
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const line = (values: number[]): string =>
      `median ${median(values).toFixed(2)} s (${values.map((v) => v.toFixed(2)).join(", ")})`;
    // Figures, not a target: speed targets live in bench/.
    process.stdout.write(`start to first pass, set warm: pod ${line(inPod)}; checkout ${line(checkout)}\n`);
  });

  it("reads the compile cache filled at build time on its read-only root filesystem", async () => {
    const { cluster } = env;
    const old = await readyAgentPod(cluster);
    await apply({ NODE_DEBUG_NATIVE: "COMPILE_CACHE" });
    const pod = await readyAgentPod(cluster, old.metadata?.name);
    await env.warmStatus(pod);
    const { stdout } = await cluster.kubectl(["logs", "-n", NAMESPACE, pod.metadata?.name ?? ""]);
    const use = compileCacheUse(stdout);
    process.stdout.write(`compile cache in the pod: ${JSON.stringify(use)}\n`);
    expect(pod.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    // Hundreds of modules come from the cache; none is refused for another Node, flag or uid.
    expect(use.accepted).toBeGreaterThan(100);
    expect(use.rejected).toBe(0);
    expect(use.compiled).toBeLessThan(use.accepted / 10);
  });

  it("an edited ConfigMap reaches the running agent, which warms the new generation without a restart", async () => {
    const { cluster, images: warmed } = env;
    const pod = await readyAgentPod(cluster);
    const before = await env.warmStatus(pod);
    const added = await cluster.pushWorkloadImage(cluster.registry, "warm/worker", "v3", [
      { size: 4096, seed: "worker" },
    ]);
    await apply({ NODE_DEBUG_NATIVE: "COMPILE_CACHE" }, [...warmed, added]);
    let status = before;
    // kubelet swaps the volume's ..data link; the agent reloads on its own.
    await waitFor(
      "the agent to warm the edited set",
      async () => {
        status = await env.agentStatus(pod);
        return status.generation !== before.generation && status.warm && status.summary.total === 3;
      },
      120_000,
    );
    const same = await cluster.api.get<Pod>(
      `/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata?.name ?? ""}`,
    );
    expect(same.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(status.entries.find((entry) => entry.digest === added.digest)?.state).toBe("present");
  });

  it("a rolling update to a new agent image keeps the node's images, and the new pod pulls nothing", async () => {
    const { cluster } = env;
    const old = await readyAgentPod(cluster);
    const set = (await env.warmStatus(old)).entries.map((entry) => entry.digest);
    // The same build under the release's next tag: a new image reference rolls the DaemonSet.
    const next = await env.retagAgentImage("next");
    const allWarmed = await env.imagesOnNode();
    const pinnedBefore = await env.pinnedOnNode();
    await apply({ NODE_DEBUG_NATIVE: "COMPILE_CACHE" }, undefined, next);

    const pod = await readyAgentPod(cluster, old.metadata?.name);
    expect(pod.spec?.containers[0]?.image).toBe(next);
    const status = await env.warmStatus(pod);
    expect(status.entries.map((entry) => entry.digest)).toEqual(expect.arrayContaining(set));
    // The pins the old pod set are still there, and the new pod reports them as its own.
    await pinnedStatus(() => env.agentStatus(pod));
    expect(await env.pinnedOnNode()).toEqual(pinnedBefore);
    expect(status.entries.every((entry) => entry.state === "present" && entry.lastPullSeconds === null)).toBe(
      true,
    );
    const after = await env.imagesOnNode();
    for (const name of allWarmed.filter((line) => line.startsWith(`${cluster.registry.host}/warm/`))) {
      expect(after).toContain(name);
    }
  });

  it("deleting the DaemonSet leaves the images on the node", async () => {
    const { cluster } = env;
    const before = (await env.imagesOnNode()).filter((line) =>
      line.startsWith(`${cluster.registry.host}/warm/`),
    );
    expect(before.length).toBeGreaterThanOrEqual(3);
    await cluster.kubectl(["delete", "daemonset", "-n", NAMESPACE, "prepull-agent", "--wait=true"]);
    await env.agentPodsGone();
    expect(await env.imagesOnNode()).toEqual(expect.arrayContaining(before));
  });
});
