import type { AgentStatus } from "../../src/http/index.ts";
import { startAgentProcess, type AgentProcess } from "../agent/agent-process.ts";
import { ConfigMapVolume, imageSetYaml } from "../agent/config-map.ts";
import type { PushedImage } from "../sandbox/index.ts";
import { deletePod, waitForPod, waitingReason, type Cluster, type Pod } from "./harness/index.ts";
import { MiB } from "./image-gc-node.ts";

/**
 * The images of one GC scenario: four entries the agent keeps warm (in set order; the third does
 * not fit the pin budget, the small fourth does), and two the node got by other means.
 */
export interface Staged {
  readonly pinnedA: PushedImage;
  readonly pinnedB: PushedImage;
  readonly overBudget: PushedImage;
  readonly pinnedSmall: PushedImage;
  /** Ran in a pod that was then deleted. */
  readonly ran: PushedImage;
  /** Pulled with `ctr images pull`, outside CRI. */
  readonly byHand: PushedImage;
}

const SET_ORDER = ["pinnedA", "pinnedB", "overBudget", "pinnedSmall"] as const;

/** Random (incompressible) data layers: `big` MiB for most images, `small` MiB for pinnedSmall. */
export async function pushStaged(
  cluster: Cluster,
  prefix: string,
  sizes: { big: number; small: number },
): Promise<Staged> {
  const push = (name: string, size: number) =>
    cluster.pushWorkloadImage(cluster.registry, `${prefix}/${name}`, "1", [
      { size: size * MiB, seed: `${prefix}/${name}` },
    ]);
  return {
    pinnedA: await push("pinned-a", sizes.big),
    pinnedB: await push("pinned-b", sizes.big),
    overBudget: await push("over-budget", sizes.big),
    pinnedSmall: await push("pinned-small", sizes.small),
    ran: await push("ran", sizes.big),
    byHand: await push("by-hand", sizes.big),
  };
}

function pod(name: string, image: string, args: string[], pullPolicy: "IfNotPresent" | "Never"): object {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 0,
      containers: [{ name: "main", image, args, imagePullPolicy: pullPolicy }],
    },
  };
}

const finished = (p: Pod): boolean => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";

/**
 * Runs a pod with `imagePullPolicy: Never` and says what happened: the termination message of a
 * container that ran, or the reason it waits (`ErrImageNeverPull` when the image is absent).
 */
export async function runWithoutPulling(
  cluster: Cluster,
  namespace: string,
  name: string,
  image: PushedImage,
): Promise<string> {
  await cluster.api.create(
    `/api/v1/namespaces/${namespace}/pods`,
    pod(name, image.reference, ["say", "started"], "Never"),
  );
  const done = await waitForPod(
    cluster.api,
    namespace,
    name,
    "finished or refused",
    (p) => finished(p) || waitingReason(p, "main") === "ErrImageNeverPull",
  );
  return (
    done.status?.containerStatuses?.[0]?.state?.terminated?.message ?? waitingReason(done, "main") ?? "?"
  );
}

/** A pod that runs the image to completion and is deleted. */
export async function runAndDelete(cluster: Cluster, namespace: string, image: PushedImage): Promise<void> {
  await cluster.api.create(
    `/api/v1/namespaces/${namespace}/pods`,
    pod("ran", image.reference, ["say", "ran"], "IfNotPresent"),
  );
  const done = await waitForPod(cluster.api, namespace, "ran", "finished", finished, 90_000);
  if (done.status?.containerStatuses?.[0]?.state?.terminated?.message !== "ran")
    throw new Error(`the pod did not run: ${JSON.stringify(done.status)}`);
  // Its exited container is kubelet's to remove (container GC, also the first step of a reclaim).
  await deletePod(cluster.api, namespace, "ran");
}

export async function pullByHand(cluster: Cluster, image: PushedImage): Promise<void> {
  await cluster.node.containerd.ctr(["images", "pull", "--plain-http", image.reference]);
}

export interface WarmingAgent {
  readonly agent: AgentProcess;
  /** The status once the set is warm and every entry's pin is decided. */
  readonly settled: AgentStatus;
  stop(): Promise<void>;
}

/** The real `prepull agent`, keeping the staged set warm and pinning within `budgetPercent`. */
export async function startWarmingAgent(
  cluster: Cluster,
  staged: Staged,
  budgetPercent: number,
): Promise<WarmingAgent> {
  const entries = SET_ORDER.map((key) => ({ image: staged[key].reference, digest: staged[key].digest }));
  const volume = await ConfigMapVolume.create({ "set.yaml": imageSetYaml("gc", entries) });
  const agent = await startAgentProcess([
    "--config",
    volume.dir,
    "--runtime-endpoint",
    cluster.node.containerd.endpoint,
    "--registry-hosts-dir",
    cluster.node.containerd.certsDir,
    "--node-name",
    cluster.node.name,
    "--pin-budget",
    String(budgetPercent),
    "--resync",
    "2s",
    // One pull at a time: the disk guard counts every pull in flight at its unpacked estimate.
    "--concurrency",
    "1",
  ]);
  const stop = async (): Promise<void> => {
    await agent.stop("SIGTERM");
    await volume.remove();
  };
  try {
    const settled = await agent.waitFor(
      // A pass that ran before the last entry arrived decided on fewer entries: wait for a later one.
      (s) =>
        s.warm &&
        s.pins.available &&
        s.entries.every((entry) => entry.pinned !== null && entry.pinReason !== "absent"),
      "the set warm with every pin decided",
      90_000,
    );
    return { agent, settled, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What docs/pinning.md says the agent decides: in set order, pinned while the sizes fit the budget. */
export function expectedPinReasons(status: AgentStatus): string[] {
  let used = 0;
  return status.entries.map((entry) => {
    const size = entry.size ?? Number.POSITIVE_INFINITY;
    if (used + size > (status.pins.budgetBytes ?? 0)) return "budget";
    used += size;
    return "pinned";
  });
}
