import { beforeAll, describe, expect, it } from "vitest";
import type { PushedImage } from "../sandbox/index.ts";
import { agentCluster } from "./agent-cluster.ts";
import { imageSetOf } from "./agent-image-support.ts";
import { createNamespace, eventLines, podEvents, waitFor } from "./harness/index.ts";
import {
  applyWarmUpRbac,
  createWarmUpJob,
  rollOutNeverDeployment,
  warmUpJobOutcome,
} from "./rollout-flow.ts";

// The pre-rollout workflow as an operator runs it: deploy/base applied with the agent's image,
// then deploy/examples/warm-up-job as it ships (its RBAC, then the Job), which finds the agents
// through the headless Service by the cluster DNS and the count of nodes from the DaemonSet; then
// a Deployment whose pods may not pull. The only change to the Job is its image (the one built
// here) and, where it must fail, a shorter timeout.
const NAMESPACE = "prepull";
const env = agentCluster({
  workloads: [{ repository: "rollout/app", tag: "v2", size: 8192, seed: "app" }],
  deployed: (images) => ({ imageSet: imageSetOf("rollout", images) }),
});

beforeAll(async () => {
  await applyWarmUpRbac(env.cluster);
});

describe("the pre-rollout warm-up Job of deploy/examples on a real cluster", () => {
  it("resolves the agents through the cluster DNS and completes once every agent is warm", async () => {
    env.reportOnFailure();
    const { cluster, image } = env;
    const name = await createWarmUpJob(cluster, image.reference);
    const { succeeded, log } = await warmUpJobOutcome(cluster, name, 180_000);
    expect(log).toContain("the agent is warm after");
    // It read the DaemonSet: one node, so one agent; nothing fell back to --min-agents.
    expect(log).not.toContain("how many agents to expect is unknown");
    expect(succeeded).toBe(true);
  });

  it("then a Deployment whose pods never pull rolls out, every pod started from the warmed image", async () => {
    const { cluster, images } = env;
    const [app] = images as [PushedImage];
    await createNamespace(cluster.api, "rollout");
    const reference = `${app.repository}@${app.digest}`;
    const pods = await rollOutNeverDeployment(cluster, "rollout", reference, 3);
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.status?.containerStatuses?.[0]?.imageID).toContain(app.digest);
      const events = eventLines(await podEvents(cluster.api, "rollout", pod.metadata?.name ?? ""));
      expect(events.filter((line) => line.startsWith("Pulling"))).toEqual([]);
    }
  });

  it("fails with the per-node report while a node's agent has not started, counted from the DaemonSet", async () => {
    env.reportOnFailure();
    const { cluster, image } = env;
    // A second node on which no pod can start (its pause image is in no registry), cordoned so
    // that the Job runs on the first; the DaemonSet still schedules an agent there.
    const held = await cluster.addNode("prepull-node-2", {
      sandboxImage: `${cluster.registry.host}/pause:absent`,
    });
    await cluster.kubectl(["cordon", held.name]);
    await waitFor("the DaemonSet to schedule an agent on both nodes", async () => {
      const daemonSet = await cluster.api.get<{ status?: { desiredNumberScheduled?: number } }>(
        `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/prepull-agent`,
      );
      return daemonSet.status?.desiredNumberScheduled === 2;
    });
    const name = await createWarmUpJob(cluster, image.reference, (args) =>
      args.map((arg) => (arg.startsWith("--timeout=") ? "--timeout=20s" : arg)).concat("--interval=2s"),
    );
    const { succeeded, log } = await warmUpJobOutcome(cluster, name, 180_000);
    expect(succeeded).toBe(false);
    expect(log).toMatch(
      /timed out after 2\d(\.\d)?s: 1\/1 agents warm, waiting for at least 2 agents \(DaemonSet prepull\/prepull-agent is scheduled on 2 nodes\)/,
    );
  });
});
