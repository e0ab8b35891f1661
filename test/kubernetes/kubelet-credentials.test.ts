import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { runPrepull } from "../cli/run-prepull.ts";
import { startRegistry, type PushedImage, type RegistryInstance } from "../sandbox/index.ts";
import {
  createNamespace,
  eventLines,
  isReady,
  podEvents,
  startCluster,
  statusOf,
  waitForPod,
  waitingReason,
  type Cluster,
  type Pod,
} from "./harness/index.ts";

// KEP-2535 (KubeletEnsureSecretPulledImages, on by default since 1.35): may a pod use a private
// image that prepull pulled with its own credentials? kubelet decides in
// PullManager.MustAttemptImagePull (pkg/kubelet/images/pullmanager): an image is "preloaded" when
// kubelet holds no ImagePulledRecord for its image id and no ImagePullIntent for the pod's string,
// not by when it arrived. Each policy gets a cluster of its own.

const NAMESPACE = "kep-2535";
const SECRET = "registry-credentials";
const USERNAME = "puller";
const PASSWORD = "Kep2535-Pa55word";

interface Env {
  readonly cluster: Cluster;
  /** The private registry: basic auth over plain HTTP on loopback. */
  readonly registry: RegistryInstance;
  /** A docker config.json with its credentials, as prepull's --docker-config reads it. */
  readonly dockerConfig: string;
  stopRegistry(): Promise<void>;
}

/** What each suite started, stopped when it ends (also when its set-up failed half-way). */
const started: Array<() => Promise<void>> = [];
async function stopAll(): Promise<void> {
  for (const stop of started.splice(0).reverse()) await stop();
}

async function startEnv(kubeletConfig: Record<string, unknown>): Promise<Env> {
  const registry = await startRegistry({ htpasswd: { username: USERNAME, password: PASSWORD } });
  let registryRunning = true;
  const stopRegistry = async (): Promise<void> => {
    if (registryRunning) await registry.stop();
    registryRunning = false;
  };
  started.push(stopRegistry);
  const cluster = await startCluster({ kubeletConfig });
  started.push(() => cluster.stop());
  const auths = { [registry.host]: { auth: Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64") } };
  const dockerConfig = join(cluster.dir, "docker-config.json");
  await writeFile(dockerConfig, JSON.stringify({ auths }));
  await createNamespace(cluster.api, NAMESPACE);
  await cluster.api.create(`/api/v1/namespaces/${NAMESPACE}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: SECRET },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify({ auths })).toString("base64") },
  });
  return { cluster, registry, dockerConfig, stopRegistry };
}

/** A private image that runs the workload, with a layer of its own so its id is its own. */
function pushPrivate(env: Env, repository: string): Promise<PushedImage> {
  return env.cluster.pushWorkloadImage(env.registry, repository, "1", [{ size: 2048, seed: repository }]);
}

async function warm(env: Env, images: readonly PushedImage[]): Promise<void> {
  const { containerd } = env.cluster.node;
  const run = await runPrepull([
    "warm",
    ...["--runtime-endpoint", containerd.endpoint, "--registry-hosts-dir", containerd.certsDir],
    ...["--docker-config", env.dockerConfig],
    ...images.map((image) => image.reference),
  ]);
  expect(run.code, run.stdout + run.stderr).toBe(0);
}

interface PodSpec {
  readonly image: string;
  readonly pullPolicy: "IfNotPresent" | "Never";
  readonly secret: boolean;
}

async function createPod(env: Env, name: string, spec: PodSpec): Promise<void> {
  await env.cluster.api.create(`/api/v1/namespaces/${NAMESPACE}/pods`, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      ...(spec.secret ? { imagePullSecrets: [{ name: SECRET }] } : {}),
      containers: [{ name: "main", image: spec.image, imagePullPolicy: spec.pullPolicy }],
    },
  });
}

function ready(env: Env, name: string): Promise<Pod> {
  return waitForPod(env.cluster.api, NAMESPACE, name, "Ready", isReady);
}

/** Waits until kubelet refuses the container for one of `reasons`; returns its waiting message. */
async function refused(env: Env, name: string, reasons: readonly string[]): Promise<string> {
  const pod = await waitForPod(env.cluster.api, NAMESPACE, name, `waiting for ${reasons.join("/")}`, (p) =>
    reasons.includes(waitingReason(p, "main") ?? ""),
  );
  return statusOf(pod, "main")?.state?.waiting?.message ?? "";
}

async function events(env: Env, name: string): Promise<string[]> {
  return eventLines(await podEvents(env.cluster.api, NAMESPACE, name));
}

function reportOnFailure(env: () => Env): void {
  onTestFailed(() => {
    process.stderr.write(`${env().cluster.logTails()}\n`);
  });
}

const PULL_FAILED = ["ErrImagePull", "ImagePullBackOff"];
/** containerd 2.1's words for a registry that wants credentials the pull did not carry. */
const NO_CREDENTIALS = "authorization failed: no basic auth credentials";

function neverPullMessage(image: PushedImage): string {
  return `Container image "${image.reference}" is not present with pull policy of Never`;
}

/** kubelet used what is on the node, after checking the pod may (the KEP-2535 wording). */
function usedPresent(image: PushedImage): string {
  return `Pulled: Container image "${image.reference}" already present on machine and can be accessed by the pod`;
}

function kubeletPulled(lines: readonly string[], image: PushedImage): boolean {
  return lines.some((line) => line.startsWith(`Pulled: Successfully pulled image "${image.reference}"`));
}

describe("kubelet's default policy, NeverVerifyPreloadedImages", () => {
  let env: Env;
  let app: PushedImage;
  let byKubelet: PushedImage;
  let offline: PushedImage;

  beforeAll(async () => {
    env = await startEnv({});
    [app, byKubelet, offline] = await Promise.all([
      pushPrivate(env, "private/app"),
      pushPrivate(env, "private/by-kubelet"),
      pushPrivate(env, "private/offline"),
    ]);
  });

  afterAll(stopAll);

  it("without prepull, a pod without a pull secret cannot have the private image", async () => {
    reportOnFailure(() => env);
    await createPod(env, "ifnp", { image: app.reference, pullPolicy: "IfNotPresent", secret: false });
    await createPod(env, "never", { image: app.reference, pullPolicy: "Never", secret: false });
    expect(await refused(env, "ifnp", PULL_FAILED)).toContain(NO_CREDENTIALS);
    expect(await refused(env, "never", ["ErrImageNeverPull"])).toBe(neverPullMessage(app));
  });

  it("prepull pulls it with its credentials while kubelet runs; the same pods then start, and kubelet pulls nothing", async () => {
    reportOnFailure(() => env);
    await warm(env, [app]);
    await ready(env, "ifnp");
    await ready(env, "never");
    await createPod(env, "ifnp-later", { image: app.reference, pullPolicy: "IfNotPresent", secret: false });
    await createPod(env, "never-later", { image: app.reference, pullPolicy: "Never", secret: false });
    await ready(env, "ifnp-later");
    await ready(env, "never-later");
    for (const pod of ["ifnp", "never", "ifnp-later", "never-later"]) {
      const lines = await events(env, pod);
      expect(lines, pod).toContain(usedPresent(app));
      expect(kubeletPulled(lines, app), pod).toBe(false);
    }
    expect(await events(env, "ifnp-later")).not.toContain(`Pulling: Pulling image "${app.reference}"`);
  });

  it("an image kubelet pulled itself for a pod's secret is not preloaded: pods without it are refused", async () => {
    reportOnFailure(() => env);
    await createPod(env, "owner", { image: byKubelet.reference, pullPolicy: "IfNotPresent", secret: true });
    await ready(env, "owner");
    expect(kubeletPulled(await events(env, "owner"), byKubelet)).toBe(true);
    // prepull finds it present and changes nothing: kubelet's record of its own pull stays.
    await warm(env, [byKubelet]);
    await createPod(env, "other-ifnp", {
      image: byKubelet.reference,
      pullPolicy: "IfNotPresent",
      secret: false,
    });
    await createPod(env, "other-never", { image: byKubelet.reference, pullPolicy: "Never", secret: false });
    expect(await refused(env, "other-ifnp", PULL_FAILED)).toContain(NO_CREDENTIALS);
    expect(await refused(env, "other-never", ["ErrImageNeverPull"])).toBe(neverPullMessage(byKubelet));
  });

  it("air-gapped: with the registry gone, pods without credentials start from what prepull pulled", async () => {
    reportOnFailure(() => env);
    await warm(env, [offline]);
    await env.stopRegistry();
    await createPod(env, "offline-ifnp", {
      image: offline.reference,
      pullPolicy: "IfNotPresent",
      secret: false,
    });
    await createPod(env, "offline-never", { image: offline.reference, pullPolicy: "Never", secret: false });
    await ready(env, "offline-ifnp");
    await ready(env, "offline-never");
    expect(await events(env, "offline-ifnp")).toContain(usedPresent(offline));
  });
});

describe("imagePullCredentialsVerificationPolicy: AlwaysVerify", () => {
  let env: Env;
  let app: PushedImage;
  let offline: PushedImage;
  let open: PushedImage;

  beforeAll(async () => {
    env = await startEnv({ imagePullCredentialsVerificationPolicy: "AlwaysVerify" });
    [app, offline] = await Promise.all([
      pushPrivate(env, "private/app"),
      pushPrivate(env, "private/offline"),
    ]);
    // A public image: the cluster's own registry asks for no credentials.
    open = await env.cluster.pushWorkloadImage(env.cluster.registry, "public/app", "1", [
      { size: 2048, seed: "public/app" },
    ]);
    await warm(env, [app, offline, open]);
  });

  afterAll(stopAll);

  it("prepull's pull does not count: without a secret, IfNotPresent pulls again and gets 401, Never is refused", async () => {
    reportOnFailure(() => env);
    await createPod(env, "ifnp", { image: app.reference, pullPolicy: "IfNotPresent", secret: false });
    await createPod(env, "never", { image: app.reference, pullPolicy: "Never", secret: false });
    expect(await refused(env, "ifnp", PULL_FAILED)).toContain(NO_CREDENTIALS);
    expect(await events(env, "ifnp")).toContain(`Pulling: Pulling image "${app.reference}"`);
    // kubelet does not reveal that the image is on the node.
    expect(await refused(env, "never", ["ErrImageNeverPull"])).toBe(neverPullMessage(app));
  });

  it("with the right secret, Never is refused until kubelet has pulled the image for that secret itself", async () => {
    reportOnFailure(() => env);
    await createPod(env, "never-secret", { image: app.reference, pullPolicy: "Never", secret: true });
    expect(await refused(env, "never-secret", ["ErrImageNeverPull"])).toBe(neverPullMessage(app));
    await createPod(env, "ifnp-secret", { image: app.reference, pullPolicy: "IfNotPresent", secret: true });
    await ready(env, "ifnp-secret");
    expect(kubeletPulled(await events(env, "ifnp-secret"), app)).toBe(true);
    // kubelet's record now names the secret: the refused pod starts, a pod without it still may not.
    await ready(env, "never-secret");
    expect(await events(env, "never-secret")).toContain(usedPresent(app));
    await createPod(env, "never-again", { image: app.reference, pullPolicy: "Never", secret: false });
    expect(await refused(env, "never-again", ["ErrImageNeverPull"])).toBe(neverPullMessage(app));
  });

  it("a public image prepull pulled is refused under Never until kubelet pulled it once; then any pod may use it", async () => {
    reportOnFailure(() => env);
    await createPod(env, "public-never", { image: open.reference, pullPolicy: "Never", secret: false });
    expect(await refused(env, "public-never", ["ErrImageNeverPull"])).toBe(neverPullMessage(open));
    await createPod(env, "public-ifnp", {
      image: open.reference,
      pullPolicy: "IfNotPresent",
      secret: false,
    });
    await ready(env, "public-ifnp");
    expect(kubeletPulled(await events(env, "public-ifnp"), open)).toBe(true);
    await ready(env, "public-never");
    expect(await events(env, "public-never")).toContain(usedPresent(open));
  });

  it("air-gapped: with the registry gone, a pre-pulled private image is unusable even with the right secret", async () => {
    reportOnFailure(() => env);
    await env.stopRegistry();
    await createPod(env, "offline-ifnp", {
      image: offline.reference,
      pullPolicy: "IfNotPresent",
      secret: true,
    });
    await createPod(env, "offline-never", { image: offline.reference, pullPolicy: "Never", secret: true });
    expect(await refused(env, "offline-ifnp", PULL_FAILED)).toContain("connection refused");
    expect(await refused(env, "offline-never", ["ErrImageNeverPull"])).toBe(neverPullMessage(offline));
  });
});
