import { readFile, rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { DEPLOY_VARIANTS, kustomizationFor, restrictedViolations } from "./deploy-variants.ts";
import { applyWarmUpRbac } from "./rollout-flow.ts";
import { startCluster, waitFor, type Cluster, type Event, type List, type Pod } from "./harness/index.ts";

// deploy/ as an operator applies it: `kubectl apply -k --server-side` against a real API server
// whose PodSecurity admission judges the agent's pod. The agent's image is not built here, so
// the pods are admitted and scheduled but do not run.
const NAMESPACE = "prepull";
/** What the agent needs of the node and restricted forbids, each justified in daemonset.yaml. */
const JUSTIFIED = ["restricted volume types", "runAsNonRoot != true", "runAsUser=0"];
let cluster: Cluster;
let agentImage: string;

beforeAll(async () => {
  cluster = await startCluster();
  agentImage = `${cluster.registry.host}/prepull/prepull:not-built`;
});

afterAll(async () => {
  await cluster.stop();
});

async function agentPods(): Promise<Pod[]> {
  const selector = encodeURIComponent("app.kubernetes.io/component=agent");
  const list = await cluster.api.get<List<Pod>>(
    `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${selector}`,
  );
  return list.items;
}

function hostPathsOf(pod: Pod): Record<string, string> {
  return Object.fromEntries(
    (pod.spec?.volumes ?? []).flatMap((volume) =>
      volume.hostPath ? [[volume.name, volume.hostPath.path]] : [],
    ),
  );
}

async function removeAll(dir: string): Promise<void> {
  await cluster.kubectl(["delete", "-k", dir, "--wait=true", "--timeout=90s", "--ignore-not-found"]);
  await rm(dir, { recursive: true, force: true });
}

describe("deploy/ applied server-side to kube-apiserver v1.37", () => {
  for (const variant of DEPLOY_VARIANTS) {
    it(`${variant.name}: admitted, its pod scheduled with its host paths; restricted names only the justified deviations`, async () => {
      onTestFailed(() => {
        process.stderr.write(`${cluster.logTails()}\n`);
      });
      const dir = await kustomizationFor(variant, agentImage);
      try {
        const applied = await cluster.kubectl([
          "apply",
          "--server-side",
          "--field-manager=prepull-test",
          "-k",
          dir,
        ]);
        expect(applied.stdout).toMatch(/daemonset\.apps\/prepull-agent serverside-applied/);
        expect(applied.stdout).toMatch(/networkpolicy\.networking\.k8s\.io\/\S+ serverside-applied/);
        // The namespace warns at restricted: the real plugin's list is the contract.
        expect(restrictedViolations(applied.stderr)).toEqual({
          checks: JUSTIFIED,
          hostPathVolumes: Object.keys(variant.hostPaths).sort(),
        });

        // The DaemonSet controller makes the pod; the scheduler binds it to the node a moment later.
        await waitFor("the DaemonSet's pod to be scheduled", async () => {
          const pods = await agentPods();
          return pods.length === 1 && pods[0]?.spec?.nodeName !== undefined;
        });
        const [pod] = await agentPods();
        expect(pod?.spec?.nodeName).toBe(cluster.node.name);
        expect(pod?.spec?.containers[0]?.image).toBe(agentImage);
        if (pod === undefined) throw new Error("no agent pod");
        expect(hostPathsOf(pod)).toEqual(variant.hostPaths);
      } finally {
        await removeAll(dir);
      }
    });
  }

  it("under enforced restricted, refuses the agent's pod for exactly those reasons and admits the warm-up Job's", async () => {
    const base = DEPLOY_VARIANTS[0];
    if (base === undefined) throw new Error("no base variant");
    const dir = await kustomizationFor(base, agentImage);
    try {
      await cluster.kubectl(["apply", "--server-side", "--field-manager=prepull-test", "-k", dir]);
      await cluster.kubectl([
        "label",
        "namespace",
        NAMESPACE,
        "pod-security.kubernetes.io/enforce=restricted",
        "--overwrite",
      ]);
      await cluster.kubectl([
        "delete",
        "pods",
        "-n",
        NAMESPACE,
        "-l",
        "app.kubernetes.io/component=agent",
        "--wait=true",
      ]);

      let refusal = "";
      await waitFor("the DaemonSet controller to be refused", async () => {
        const selector = encodeURIComponent("involvedObject.kind=DaemonSet,reason=FailedCreate");
        const events = await cluster.api.get<List<Event>>(
          `/api/v1/namespaces/${NAMESPACE}/events?fieldSelector=${selector}`,
        );
        refusal =
          events.items.map((event) => event.message ?? "").find((message) => message.includes("forbidden")) ??
          "";
        return refusal !== "";
      });
      expect(restrictedViolations(refusal)).toEqual({
        checks: JUSTIFIED,
        hostPathVolumes: ["runtime-socket-dir"],
      });
      expect(await agentPods()).toEqual([]);

      await applyWarmUpRbac(cluster);
      const job = (
        await readFile(new URL("../../deploy/examples/warm-up-job/job.yaml", import.meta.url), "utf8")
      ).replace("ghcr.io/prepull/prepull:0.1.0", agentImage);
      const created = await cluster.kubectl(["create", "-f", "-"], job);
      expect(created.stderr).not.toContain("PodSecurity");
      await waitFor("the warm-up Job's pod", async () => {
        const selector = encodeURIComponent("app.kubernetes.io/component=warm-up");
        const list = await cluster.api.get<List<Pod>>(
          `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${selector}`,
        );
        return list.items.length === 1;
      });
    } finally {
      await cluster.kubectl(["delete", "jobs", "-n", NAMESPACE, "--all", "--wait=true"]);
      await removeAll(dir);
    }
  });
});
