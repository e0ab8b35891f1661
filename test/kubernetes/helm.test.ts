import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import type { AgentStatus } from "../../src/http/index.ts";
import { tagImage, type PushedImage } from "../sandbox/index.ts";
import {
  AGENT_SELECTOR,
  buildAgentImage,
  imageSetOf,
  pinnedStatus,
  readyAgentPod,
  sharedMountDir,
  type BuiltImage,
} from "./agent-image-support.ts";
import { ApiError, startCluster, waitFor, type Cluster, type List, type Pod } from "./harness/index.ts";
import {
  CHART,
  HELM_RELEASE_ANNOTATIONS,
  helm,
  helmHome,
  helmOk,
  requireHelm,
  valuesFile,
  type HelmHome,
  type HelmResult,
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

let cluster: Cluster;
let image: BuiltImage;
let apps: PushedImage[];
let home: HelmHome;
let shared: Awaited<ReturnType<typeof sharedMountDir>> | undefined;
const temps: string[] = [];

beforeAll(async () => {
  home = await helmHome();
  shared = await sharedMountDir();
  // kubelet refreshes a pod's ConfigMap volumes at each pod sync: every 10 s here, not 1 min.
  cluster = await startCluster({ containerdParentDir: shared.path, kubeletConfig: { syncFrequency: "10s" } });
  image = await buildAgentImage(cluster.registry.host, "test");
  apps = await Promise.all([
    cluster.pushWorkloadImage(cluster.registry, "warm/api", "v1", [{ size: 4096, seed: "helm-api" }]),
    cluster.pushWorkloadImage(cluster.registry, "warm/web", "v2", [{ size: 4096, seed: "helm-web" }]),
  ]);
}, 900_000);

afterAll(async () => {
  try {
    await kubeHelm(["uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "2m"]).catch(
      () => undefined,
    );
    await cluster.stop();
  } finally {
    await shared?.remove();
    await home.remove();
    await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
  }
});

/** helm against the test cluster as its admin, with the tests' own helm home. */
function kubeHelm(args: readonly string[]): Promise<HelmResult> {
  return helm([...args, "--kubeconfig", cluster.controlPlane.adminKubeconfig], {
    env: home.env,
    timeoutMs: LONG,
  });
}

async function kubeHelmOk(args: readonly string[]): Promise<string> {
  const started = performance.now();
  const output = await helmOk([...args, "--kubeconfig", cluster.controlPlane.adminKubeconfig], {
    env: home.env,
    timeoutMs: LONG,
  });
  process.stdout.write(`helm ${args[0] ?? ""}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return output;
}

/** The values for this cluster: its agent image, the node's containerd, the disk guard and `set`. */
async function values(
  set: readonly PushedImage[],
  agentImage: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const [repository = agentImage, tag = "latest"] = agentImage.split(/:(?=[^:/]+$)/);
  const { socketPath, root } = cluster.node.containerd;
  const file = await valuesFile({
    image: { repository, tag },
    runtime: { socketDir: dirname(socketPath), socketName: basename(socketPath) },
    diskGuard: { enabled: true, imageFsDir: join(root, "prepull-statfs") },
    imageSets: { "example.yaml": null, [`${SET}.yaml`]: imageSetOf(SET, set) },
    ...extra,
  });
  temps.push(dirname(file.path));
  return file.path;
}

function statusOf(pod: Pod): Promise<AgentStatus> {
  return cluster.api.get<AgentStatus>(
    `/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata?.name ?? ""}:8080/proxy/v1/status`,
  );
}

/** The agent's status once it is warm for `images` entries. */
async function warmFor(pod: Pod, images: number): Promise<AgentStatus> {
  let status: AgentStatus | undefined;
  await waitFor(
    `the agent to be warm for ${String(images)} images`,
    async () => {
      status = await statusOf(pod);
      return status.warm && status.lastPass !== null && status.summary.total === images;
    },
    120_000,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; last status: ${JSON.stringify(status)}`, { cause: error });
  });
  if (status === undefined) throw new Error("no status");
  return status;
}

/** The names the node's containerd keeps pinned, sorted. */
async function pinnedOnNode(): Promise<string[]> {
  const listed = await cluster.node.containerd.ctr([
    "images",
    "ls",
    "--quiet",
    'labels."io.cri-containerd.pinned"==pinned',
  ]);
  return listed.split("\n").filter(Boolean).sort();
}

async function imagesOnNode(): Promise<string[]> {
  return (await cluster.node.containerd.ctr(["images", "ls", "--quiet"])).split("\n").filter(Boolean);
}

const byDigest = (images: readonly PushedImage[]): string[] =>
  images.map((i) => `${i.repository}@${i.digest}`);

async function exists(path: string): Promise<boolean> {
  try {
    await cluster.api.get(path);
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return false;
    throw error;
  }
}

function reportOnFailure(): void {
  onTestFailed(async () => {
    const pods = await cluster
      .kubectl(["get", "pods", "-n", NAMESPACE, "-o", "wide"])
      .then((out) => out.stdout)
      .catch((error: unknown) => String(error));
    const logs = await cluster
      .kubectl(["logs", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=prepull", "--tail=40", "--prefix"])
      .then((out) => out.stdout)
      .catch((error: unknown) => String(error));
    process.stderr.write(`${pods}\n${logs}\n${cluster.logTails()}\n`);
  });
}

describe("charts/prepull on a real cluster, as users install it", () => {
  it(
    "helm install --wait brings up the agent, which warms and pins the chart's ImageSet",
    async () => {
      reportOnFailure();
      process.stdout.write(
        `agent image ${image.reference}: ${image.size} unpacked, built and pushed in ${image.buildSeconds.toFixed(1)} s\n`,
      );
      const output = await kubeHelmOk([
        "install",
        RELEASE,
        CHART,
        "-n",
        NAMESPACE,
        "--create-namespace",
        "--wait",
        "--timeout",
        "5m",
        "-f",
        await values(apps, image.reference),
      ]);
      expect(output).toContain("STATUS: deployed");
      expect(output).toContain(`helm test ${RELEASE} -n ${NAMESPACE} --logs`);
      const pod = await readyAgentPod(cluster);
      expect(pod.spec?.containers[0]?.image).toBe(image.reference);
      await warmFor(pod, apps.length);
      const status = await pinnedStatus(() => statusOf(pod));
      expect(status.config.sets).toEqual([SET]);
      expect(status.entries.map((entry) => [entry.state, entry.pinned])).toEqual(
        apps.map(() => ["present", true]),
      );
      expect(await pinnedOnNode()).toEqual(expect.arrayContaining(byDigest(apps)));

      // The release owns its objects, and Helm's annotations say so.
      const daemonSet = await cluster.api.get<{ metadata: { annotations?: Record<string, string> } }>(
        `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/prepull-agent`,
      );
      for (const annotation of HELM_RELEASE_ANNOTATIONS)
        expect(daemonSet.metadata.annotations).toHaveProperty(annotation);
    },
    LONG,
  );

  it(
    "helm test waits for every agent through the headless Service and the DaemonSet, and cleans up after itself",
    async () => {
      reportOnFailure();
      const output = await kubeHelmOk(["test", RELEASE, "-n", NAMESPACE, "--logs", "--timeout", "5m"]);
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
        await waitFor(`${path} to be gone`, async () => !(await exists(path)));
      }
    },
    LONG,
  );

  it(
    "helm upgrade to a new ImageSet and a new agent image: the node keeps its images and pins, the new pod pulls only what is new",
    async () => {
      reportOnFailure();
      const old = await readyAgentPod(cluster);
      // The same build under the release's next tag: a new image reference rolls the DaemonSet.
      const repository = image.reference.slice(
        image.reference.indexOf("/") + 1,
        image.reference.lastIndexOf(":"),
      );
      const digest = (await imagesOnNode())
        .find((name) => name.startsWith(`${cluster.registry.host}/${repository}@`))
        ?.split("@")[1];
      if (digest === undefined) throw new Error(`no record of ${image.reference} on the node`);
      await tagImage(cluster.registry, repository, digest, "next");
      const next = `${cluster.registry.host}/${repository}:next`;
      const added = await cluster.pushWorkloadImage(cluster.registry, "warm/worker", "v3", [
        { size: 4096, seed: "helm-worker" },
      ]);
      const pinnedBefore = await pinnedOnNode();

      const output = await kubeHelmOk([
        "upgrade",
        RELEASE,
        CHART,
        "-n",
        NAMESPACE,
        "--wait",
        "--timeout",
        "5m",
        "-f",
        await values([...apps, added], next),
      ]);
      expect(output).toMatch(/STATUS: deployed\s+REVISION: 2/);
      const pod = await readyAgentPod(cluster, old.metadata?.name);
      expect(pod.spec?.containers[0]?.image).toBe(next);
      await warmFor(pod, apps.length + 1);
      const status = await pinnedStatus(() => statusOf(pod));
      const entry = (image: PushedImage): AgentStatus["entries"][number] | undefined =>
        status.entries.find((candidate) => candidate.digest === image.digest);
      // What the old pod warmed was still there: the new one pulled nothing of it.
      for (const kept of apps)
        expect(entry(kept)).toMatchObject({ state: "present", lastPullSeconds: null, pinned: true });
      expect(entry(added)).toMatchObject({ state: "present", pinned: true });
      expect(await pinnedOnNode()).toEqual(expect.arrayContaining([...pinnedBefore, ...byDigest([added])]));

      await kubeHelmOk(["test", RELEASE, "-n", NAMESPACE, "--timeout", "5m"]);
    },
    LONG,
  );

  it(
    "helm test fails with the per-node report when an image cannot be warmed; helm rollback and it passes again",
    async () => {
      reportOnFailure();
      const absent = {
        repository: `${cluster.registry.host}/warm/absent`,
        digest: `sha256:${"0".repeat(64)}`,
      } as PushedImage;
      const current = await readyAgentPod(cluster);
      const running = current.spec?.containers[0]?.image ?? "";
      await kubeHelmOk([
        "upgrade",
        RELEASE,
        CHART,
        "-n",
        NAMESPACE,
        "--wait",
        "-f",
        await values([...apps, absent], running, { tests: { timeout: "90s" } }),
      ]);
      const failed = await kubeHelm(["test", RELEASE, "-n", NAMESPACE, "--logs", "--timeout", "5m"]);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(/Phase:\s+Failed/);
      // The wait's report names the node and the entry that is not warm (--logs prints it).
      expect(failed.stdout).toContain(cluster.node.name);
      expect(failed.stdout).toContain("warm/absent");
      // The failed Pod stays for its log.
      expect(await exists(`/api/v1/namespaces/${NAMESPACE}/pods/prepull-test`)).toBe(true);

      await kubeHelmOk(["rollback", RELEASE, "2", "-n", NAMESPACE, "--wait", "--timeout", "5m"]);
      const passed = await kubeHelmOk(["test", RELEASE, "-n", NAMESPACE, "--timeout", "5m"]);
      expect(passed).toMatch(/Phase:\s+Succeeded/);
    },
    LONG,
  );

  it(
    "helm uninstall removes every object of the release and leaves the node's images",
    async () => {
      reportOnFailure();
      const warmed = (await imagesOnNode()).filter((name) =>
        name.startsWith(`${cluster.registry.host}/warm/`),
      );
      expect(warmed.length).toBeGreaterThanOrEqual(apps.length + 1);
      await kubeHelmOk(["uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "3m"]);
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
      expect(await exists("/apis/scheduling.k8s.io/v1/priorityclasses/prepull")).toBe(false);
      await waitFor("the agent's pod to be gone", async () => {
        const list = await cluster.api.get<List<Pod>>(
          `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${AGENT_SELECTOR}`,
        );
        return list.items.length === 0;
      });
      expect(await imagesOnNode()).toEqual(expect.arrayContaining(warmed));
    },
    LONG,
  );

  it(
    "helm package and helm push to an OCI registry; helm install oci://… from there, and its test passes",
    async () => {
      reportOnFailure();
      const dir = await mkdtemp(join(tmpdir(), "prepull-helm-package-"));
      temps.push(dir);
      const packaged = await kubeHelmOk(["package", CHART, "-d", dir]);
      const archive = join(dir, "prepull-0.1.0.tgz");
      expect(packaged).toContain(archive);

      const registry = `oci://${cluster.registry.host}/charts`;
      const push = await helm(["push", archive, registry, "--plain-http"], { env: home.env });
      expect(push.code, push.stderr).toBe(0);
      expect(push.stdout + push.stderr).toContain(`Pushed: ${cluster.registry.host}/charts/prepull:0.1.0`);
      expect(push.stdout + push.stderr).toMatch(/Digest: sha256:[a-f0-9]{64}/);
      const shown = await helmOk(
        ["show", "chart", `${registry}/prepull`, "--version", "0.1.0", "--plain-http"],
        {
          env: home.env,
        },
      );
      expect(shown).toMatch(/^name: prepull$/m);
      expect(shown).toMatch(/^version: 0\.1\.0$/m);

      // The README's one line, with this cluster's values and a registry that speaks plain HTTP.
      const output = await kubeHelmOk([
        "install",
        RELEASE,
        `${registry}/prepull`,
        "--version",
        "0.1.0",
        "-n",
        NAMESPACE,
        "--create-namespace",
        "--plain-http",
        "--wait",
        "--timeout",
        "5m",
        "-f",
        await values(apps, image.reference),
      ]);
      expect(output).toContain("STATUS: deployed");
      const listed = await kubeHelmOk(["list", "-n", NAMESPACE, "-o", "json"]);
      expect(JSON.parse(listed)).toEqual([
        expect.objectContaining({
          name: RELEASE,
          chart: "prepull-0.1.0",
          app_version: "0.1.0",
          status: "deployed",
        }),
      ]);
      await warmFor(await readyAgentPod(cluster), apps.length);
      const tested = await kubeHelmOk(["test", RELEASE, "-n", NAMESPACE, "--timeout", "5m"]);
      expect(tested).toMatch(/Phase:\s+Succeeded/);
    },
    LONG,
  );
});
