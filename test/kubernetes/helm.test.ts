import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentStatus } from "../../src/http/index.ts";
import type { PushedImage } from "../sandbox/index.ts";
import { agentCluster } from "./agent-cluster.ts";
import { imageSetOf, pinnedStatus, readyAgentPod } from "./agent-image-support.ts";
import { waitFor } from "./harness/index.ts";
import {
  CHART,
  clusterHelm,
  HELM_RELEASE_ANNOTATIONS,
  helm,
  helmHome,
  helmOk,
  nodeValues,
  requireHelm,
  valuesFile,
  type ClusterHelm,
  type HelmHome,
} from "./helm-support.ts";

// charts/prepull as users install it: `helm install --wait` from the chart directory, `helm test`,
// `helm upgrade` to a new ImageSet and a new agent image, `helm rollback`, `helm uninstall`; then
// the release plumbing: `helm package`, `helm push` to a registry and `helm install oci://…` from
// there. The agent image is built from the Dockerfile and served by the sandbox registry; the
// values point the chart at the node's containerd (its socket and root are not the defaults here)
// and turn the disk guard on, so that the agent has a pin budget and pins.
const NAMESPACE = "prepull";
const RELEASE = "prepull";
const SET = "helm-test";
const LONG = 420_000;

requireHelm();

const env = agentCluster({
  // kubelet refreshes a pod's ConfigMap volumes at each pod sync: every 10 s here, not 1 min.
  kubeletConfig: { syncFrequency: "10s" },
  workloads: [
    { repository: "warm/api", tag: "v1", size: 4096, seed: "helm-api" },
    { repository: "warm/web", tag: "v2", size: 4096, seed: "helm-web" },
  ],
});
let home: HelmHome;
/** helm against the test cluster as its admin, with the tests' own helm home. */
let kube: ClusterHelm;
const temps: string[] = [];

beforeAll(async () => {
  home = await helmHome();
  kube = clusterHelm(env.cluster.controlPlane.adminKubeconfig, home, LONG);
});

// Before the cluster stops (after hooks run in the reverse order of their registration).
afterAll(async () => {
  try {
    await kube
      .run(["uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "2m"])
      .catch(() => undefined);
  } finally {
    await home.remove();
    await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
  }
});

/** A values file for this cluster: its agent image, the node's containerd, the disk guard and `set`. */
async function values(
  set: readonly PushedImage[],
  agentImage: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const imageSets = { [`${SET}.yaml`]: imageSetOf(SET, set) };
  const file = await valuesFile({
    ...nodeValues(agentImage, env.cluster.node.containerd, imageSets),
    ...extra,
  });
  temps.push(dirname(file.path));
  return file.path;
}

/** `helm install` or `helm upgrade` of the release from `chart` with a values file, waiting for it. */
function rollOut(
  command: "install" | "upgrade",
  chart: string,
  valuesPath: string,
  ...flags: string[]
): Promise<string> {
  return kube.ok([
    command,
    RELEASE,
    chart,
    "-n",
    NAMESPACE,
    ...flags,
    "--wait",
    "--timeout",
    "5m",
    "-f",
    valuesPath,
  ]);
}

const byDigest = (images: readonly PushedImage[]): string[] =>
  images.map((i) => `${i.repository}@${i.digest}`);

describe("charts/prepull on a real cluster, as users install it", { timeout: LONG }, () => {
  it("helm install --wait brings up the agent, which warms and pins the chart's ImageSet", async () => {
    env.reportOnFailure();
    const { cluster, image, images: apps } = env;
    process.stdout.write(
      `agent image ${image.reference}: ${image.size} unpacked, built and pushed in ${image.buildSeconds.toFixed(1)} s\n`,
    );
    const output = await rollOut("install", CHART, await values(apps, image.reference), "--create-namespace");
    expect(output).toContain("STATUS: deployed");
    expect(output).toContain(`helm test ${RELEASE} -n ${NAMESPACE} --logs`);
    const pod = await readyAgentPod(cluster);
    expect(pod.spec?.containers[0]?.image).toBe(image.reference);
    await env.warmStatus(pod, apps.length);
    const status = await pinnedStatus(() => env.agentStatus(pod));
    expect(status.config.sets).toEqual([SET]);
    expect(status.entries.map((entry) => [entry.state, entry.pinned])).toEqual(
      apps.map(() => ["present", true]),
    );
    expect(await env.pinnedOnNode()).toEqual(expect.arrayContaining(byDigest(apps)));

    // The release owns its objects, and Helm's annotations say so.
    const daemonSet = await cluster.api.get<{ metadata: { annotations?: Record<string, string> } }>(
      `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/prepull-agent`,
    );
    for (const annotation of HELM_RELEASE_ANNOTATIONS)
      expect(daemonSet.metadata.annotations).toHaveProperty(annotation);
  });

  it("helm test waits for every agent through the headless Service and the DaemonSet, and cleans up after itself", async () => {
    env.reportOnFailure();
    const output = await kube.ok(["test", RELEASE, "-n", NAMESPACE, "--logs", "--timeout", "5m"]);
    expect(output).toMatch(/TEST SUITE:\s+prepull-test/);
    expect(output).toMatch(/Phase:\s+Succeeded/);
    // The wait's own log: warm, and the number of agents read from the DaemonSet.
    expect(output).toContain("the agent is warm after");
    expect(output).not.toContain("how many agents to expect is unknown");
    // A passed test leaves neither its Pod nor its identity behind.
    for (const path of [
      `/api/v1/namespaces/${NAMESPACE}/pods/prepull-test`,
      `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/prepull-test`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/roles/prepull-test`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/rolebindings/prepull-test`,
    ]) {
      await waitFor(`${path} to be gone`, async () => !(await env.exists(path)));
    }
  });

  it("helm upgrade to a new ImageSet and a new agent image: the node keeps its images and pins, the new pod pulls only what is new", async () => {
    env.reportOnFailure();
    const { cluster, images: apps } = env;
    const old = await readyAgentPod(cluster);
    // The same build under the release's next tag: a new image reference rolls the DaemonSet.
    const next = await env.retagAgentImage("next");
    const added = await cluster.pushWorkloadImage(cluster.registry, "warm/worker", "v3", [
      { size: 4096, seed: "helm-worker" },
    ]);
    const pinnedBefore = await env.pinnedOnNode();

    const output = await rollOut("upgrade", CHART, await values([...apps, added], next));
    expect(output).toMatch(/STATUS: deployed\s+REVISION: 2/);
    const pod = await readyAgentPod(cluster, old.metadata?.name);
    expect(pod.spec?.containers[0]?.image).toBe(next);
    await env.warmStatus(pod, apps.length + 1);
    const status = await pinnedStatus(() => env.agentStatus(pod));
    const entry = (image: PushedImage): AgentStatus["entries"][number] | undefined =>
      status.entries.find((candidate) => candidate.digest === image.digest);
    // What the old pod warmed was still there: the new one pulled nothing of it.
    for (const kept of apps)
      expect(entry(kept)).toMatchObject({ state: "present", lastPullSeconds: null, pinned: true });
    expect(entry(added)).toMatchObject({ state: "present", pinned: true });
    expect(await env.pinnedOnNode()).toEqual(expect.arrayContaining([...pinnedBefore, ...byDigest([added])]));

    await kube.ok(["test", RELEASE, "-n", NAMESPACE, "--timeout", "5m"]);
  });

  it("helm test fails with the per-node report when an image cannot be warmed; helm rollback and it passes again", async () => {
    env.reportOnFailure();
    const { cluster, images: apps } = env;
    const absent = {
      repository: `${cluster.registry.host}/warm/absent`,
      digest: `sha256:${"0".repeat(64)}`,
    } as PushedImage;
    const current = await readyAgentPod(cluster);
    const running = current.spec?.containers[0]?.image ?? "";
    await rollOut("upgrade", CHART, await values([...apps, absent], running, { tests: { timeout: "90s" } }));
    const failed = await kube.run(["test", RELEASE, "-n", NAMESPACE, "--logs", "--timeout", "5m"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/Phase:\s+Failed/);
    // The wait's report names the node and the entry that is not warm (--logs prints it).
    expect(failed.stdout).toContain(cluster.node.name);
    expect(failed.stdout).toContain("warm/absent");
    // The failed Pod stays for its log.
    expect(await env.exists(`/api/v1/namespaces/${NAMESPACE}/pods/prepull-test`)).toBe(true);

    await kube.ok(["rollback", RELEASE, "2", "-n", NAMESPACE, "--wait", "--timeout", "5m"]);
    const passed = await kube.ok(["test", RELEASE, "-n", NAMESPACE, "--timeout", "5m"]);
    expect(passed).toMatch(/Phase:\s+Succeeded/);
  });

  it("helm uninstall removes every object of the release and leaves the node's images", async () => {
    env.reportOnFailure();
    const { cluster, images: apps } = env;
    const warmed = (await env.imagesOnNode()).filter((name) =>
      name.startsWith(`${cluster.registry.host}/warm/`),
    );
    expect(warmed.length).toBeGreaterThanOrEqual(apps.length + 1);
    await kube.ok(["uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "3m"]);
    const { stdout } = await cluster.kubectl([
      "get",
      "daemonsets,services,configmaps,serviceaccounts,networkpolicies,roles,rolebindings",
      "-n",
      NAMESPACE,
      "-l",
      "app.kubernetes.io/name=prepull",
      "-o",
      "name",
    ]);
    expect(stdout.trim()).toBe("");
    expect(await env.exists("/apis/scheduling.k8s.io/v1/priorityclasses/prepull")).toBe(false);
    await env.agentPodsGone();
    expect(await env.imagesOnNode()).toEqual(expect.arrayContaining(warmed));
  });

  it("helm package and helm push to an OCI registry; helm install oci://… from there, and its test passes", async () => {
    env.reportOnFailure();
    const { cluster, image, images: apps } = env;
    const dir = await mkdtemp(join(tmpdir(), "prepull-helm-package-"));
    temps.push(dir);
    const packaged = await kube.ok(["package", CHART, "-d", dir]);
    const archive = join(dir, "prepull-0.1.0.tgz");
    expect(packaged).toContain(archive);

    const registry = `oci://${cluster.registry.host}/charts`;
    const push = await helm(["push", archive, registry, "--plain-http"], { env: home.env });
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout + push.stderr).toContain(`Pushed: ${cluster.registry.host}/charts/prepull:0.1.0`);
    expect(push.stdout + push.stderr).toMatch(/Digest: sha256:[a-f0-9]{64}/);
    const shown = await helmOk(
      ["show", "chart", `${registry}/prepull`, "--version", "0.1.0", "--plain-http"],
      { env: home.env },
    );
    expect(shown).toMatch(/^name: prepull$/m);
    expect(shown).toMatch(/^version: 0\.1\.0$/m);

    // The README's one line, with this cluster's values and a registry that speaks plain HTTP.
    const output = await rollOut(
      "install",
      `${registry}/prepull`,
      await values(apps, image.reference),
      "--version",
      "0.1.0",
      "--create-namespace",
      "--plain-http",
    );
    expect(output).toContain("STATUS: deployed");
    const listed = await kube.ok(["list", "-n", NAMESPACE, "-o", "json"]);
    expect(JSON.parse(listed)).toEqual([
      expect.objectContaining({
        name: RELEASE,
        chart: "prepull-0.1.0",
        app_version: "0.1.0",
        status: "deployed",
      }),
    ]);
    await env.warmStatus(await readyAgentPod(cluster), apps.length);
    const tested = await kube.ok(["test", RELEASE, "-n", NAMESPACE, "--timeout", "5m"]);
    expect(tested).toMatch(/Phase:\s+Succeeded/);
  });
});
