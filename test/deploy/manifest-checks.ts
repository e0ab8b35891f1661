import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect } from "vitest";
import { stringify } from "yaml";
import { runPrepull, type CliRun } from "../cli/run-prepull.ts";
import { key, type KubeObject } from "./kustomize.ts";

// What deploy/ (kustomize) and charts/prepull (helm) are both held to: the Kubernetes schema, the
// agent's pod, the NetworkPolicy in front of it, and prepull's own reading of the output.

const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A directory of the test file's own, removed after its tests. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/**
 * The Prometheus Operator's kinds: kubernetes-models has no schema for them, so they are checked
 * where they are made for, in test/monitoring (promtool on the rules, selectors against the pods).
 */
export const OPERATOR_KINDS = new Set(["PodMonitor", "PrometheusRule"]);

/** Validates against the Kubernetes OpenAPI schema of the object's own apiVersion and kind. */
export async function validate(object: KubeObject): Promise<void> {
  const module = (await import(
    /* @vite-ignore */ `kubernetes-models/${object.apiVersion}/${object.kind}`
  )) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[object.kind];
  if (Model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  securityContext?: Record<string, unknown>;
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{
    name: string;
    hostPath?: { path: string };
    configMap?: { name: string };
    projected?: { sources: Array<Record<string, unknown>> };
  }>;
  tolerations?: unknown[];
  priorityClassName?: string;
  restartPolicy?: string;
}

export interface Workload {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: {
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    updateStrategy?: { type: string };
  };
}

export function agentContainer(pod: PodSpec): Container {
  const agent = pod.containers.find((container) => container.name === "agent");
  if (agent === undefined) throw new Error("no agent container");
  return agent;
}

/** The one object of `kind` (that `filter` picks), for the caller to read as its shape. */
export function one(
  objects: readonly KubeObject[],
  kind: string,
  filter: (object: KubeObject) => boolean = () => true,
): unknown {
  const found = objects.filter((object) => object.kind === kind && filter(object));
  if (found.length !== 1)
    throw new Error(`expected one ${kind}, found ${found.map(key).join(", ") || "none"}`);
  return found[0];
}

const BROAD_HOST_PATHS = new Set([
  "/",
  "/var",
  "/run",
  "/var/run",
  "/etc",
  "/var/lib",
  "/usr",
  "/home",
  "/root",
]);

/** A runtime's root holds every image's layers and blobs: the agent never needs to see it. */
const RUNTIME_ROOTS = [
  "/var/lib/containerd",
  "/var/lib/containers/storage",
  "/var/lib/rancher/k3s/agent/containerd",
];

export interface AgentPodExpectations {
  /** The pod's containers, by name: the agent, and the Node Readiness Controller's reporter. */
  readonly containers: readonly string[];
  /** Whether the pod mounts a token (the readiness gate in the agent). */
  readonly serviceAccountToken: boolean;
  readonly tolerations: readonly unknown[];
}

/**
 * deploy/base's posture for the agent's pod: the socket's directory and opt-in read-only views of
 * the host, nothing broad and nothing of a runtime's root; no privileges; probes, limits and its
 * node name. Returns the pod and the agent's container for the caller's own checks.
 */
export function expectAgentPod(
  daemonSet: Workload,
  expected: AgentPodExpectations,
): { pod: PodSpec; agent: Container } {
  const pod = daemonSet.spec.template.spec;
  const agent = agentContainer(pod);
  expect(pod.containers.map((container) => container.name)).toEqual(expected.containers);
  expect(pod).not.toHaveProperty("hostNetwork");
  expect(pod).not.toHaveProperty("hostPID");
  expect(pod).not.toHaveProperty("hostIPC");
  expect(pod).not.toHaveProperty("initContainers");
  // A token only where the gate needs one; never one mounted by hand.
  expect(pod.automountServiceAccountToken).toBe(expected.serviceAccountToken);
  expect(agent.volumeMounts?.some((mount) => mount.mountPath.startsWith("/var/run/secrets"))).toBe(false);
  expect(pod.securityContext).toEqual({
    runAsUser: 0,
    runAsGroup: 0,
    runAsNonRoot: false,
    seccompProfile: { type: "RuntimeDefault" },
  });
  expect(agent.securityContext).toEqual({
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  });

  const hostPaths = (pod.volumes ?? []).flatMap((volume) => (volume.hostPath ? [volume] : []));
  expect(hostPaths.map((volume) => volume.name)).toContain("runtime-socket-dir");
  for (const volume of hostPaths) {
    const path = volume.hostPath?.path.replace(/\/+$/, "") ?? "";
    expect(BROAD_HOST_PATHS.has(path || "/"), path).toBe(false);
    for (const root of RUNTIME_ROOTS) {
      expect(root.startsWith(`${path}/`), `${path} holds ${root}`).toBe(false);
      // Inside a runtime's root only the disk guard's own empty directory is allowed.
      if (path === root || path.startsWith(`${root}/`)) expect(path).toBe(`${root}/prepull-statfs`);
    }
    const mounts = (agent.volumeMounts ?? []).filter((mount) => mount.name === volume.name);
    expect(mounts.length, volume.name).toBeGreaterThan(0);
    for (const mount of mounts) expect(mount.readOnly, mount.mountPath).toBe(true);
  }
  const socketVolume = pod.volumes?.find((volume) => volume.name === "runtime-socket-dir");
  expect(socketVolume?.hostPath?.path).toMatch(/crio|containerd/);
  const socketMount = agent.volumeMounts?.find((mount) => mount.name === "runtime-socket-dir");
  const endpoint = agent.env?.find((variable) => variable.name === "CONTAINER_RUNTIME_ENDPOINT")?.value ?? "";
  expect(endpoint.startsWith(`unix://${socketMount?.mountPath ?? "?"}/`)).toBe(true);

  expect(agent.imagePullPolicy).toBeDefined();
  expect(agent.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: "probes" } });
  expect(agent.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: "probes" } });
  // The named port is the one the agent's probe port listens on.
  const probePort = agent.ports?.find((port) => port.name === "probes")?.containerPort;
  expect(agent.args).toContain(`--probe-listen=0.0.0.0:${String(probePort)}`);
  expect(agent.ports?.find((port) => port.name === "http")?.containerPort).not.toBe(probePort);
  expect(Object.keys(agent.resources?.requests ?? {}).sort()).toEqual(["cpu", "memory"]);
  expect(agent.resources?.limits?.memory).toBeDefined();
  expect(agent.env?.find((variable) => variable.name === "NODE_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe(
    "spec.nodeName",
  );
  // Every variable is set once.
  const names = (agent.env ?? []).map((variable) => variable.name);
  expect(new Set(names).size).toBe(names.length);
  expect(pod.tolerations).toEqual(expected.tolerations);
  expect(daemonSet.spec.updateStrategy?.type).toBe("RollingUpdate");
  return { pod, agent };
}

export interface NetworkPolicy {
  metadata: { namespace?: string };
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress: Array<{
      from: Array<{
        podSelector?: { matchLabels?: Record<string, string> };
        namespaceSelector?: { matchLabels?: Record<string, string> };
        ipBlock?: unknown;
      }>;
      ports: Array<{ port: string | number; protocol: string }>;
    }>;
  };
}

/** The pods the NetworkPolicy admits besides Prometheus: the warm-up Job's and `helm test`'s. */
export const WARM_UP_PEER = {
  podSelector: {
    matchLabels: { "app.kubernetes.io/name": "prepull", "app.kubernetes.io/component": "warm-up" },
  },
};

/** Only the warm-up (and `helm test`) and Prometheus reach the agents, on the HTTP port. */
export function expectAgentNetworkPolicy(objects: readonly KubeObject[], prometheusNamespace: string): void {
  const policy = one(objects, "NetworkPolicy") as NetworkPolicy;
  const daemonSet = one(objects, "DaemonSet") as Workload;
  expect(policy.metadata.namespace).toBe(daemonSet.metadata.namespace);
  expect(daemonSet.spec.template.metadata.labels).toMatchObject(policy.spec.podSelector.matchLabels);
  expect(policy.spec.policyTypes).toEqual(["Ingress"]);
  expect(policy.spec.ingress).toHaveLength(1);
  const [rule] = policy.spec.ingress as [NetworkPolicy["spec"]["ingress"][number]];
  expect(rule.ports).toEqual([{ port: "http", protocol: "TCP" }]);
  const agent = agentContainer(daemonSet.spec.template.spec);
  expect(agent.ports?.map((port) => port.name)).toContain("http");
  // Every peer names someone: an empty selector or an open CIDR would let everyone in.
  for (const peer of rule.from) {
    expect(peer).not.toHaveProperty("ipBlock");
    const labels = { ...peer.podSelector?.matchLabels, ...peer.namespaceSelector?.matchLabels };
    expect(Object.keys(labels).length).toBeGreaterThan(0);
  }
  expect(rule.from).toEqual([
    WARM_UP_PEER,
    { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": prometheusNamespace } } },
  ]);
}

/** `prepull plan --fail-on warning` over rendered objects, as one file in `dir`. */
export async function planOf(objects: readonly KubeObject[], dir: string): Promise<CliRun> {
  const file = join(dir, "rendered.yaml");
  await writeFile(file, objects.map((object) => stringify(object)).join("---\n"));
  return runPrepull(["plan", file, "--fail-on", "warning"]);
}

/** One round of `prepull wait` on ImageSets against no agent: exit 1 is "not warm", 2 invalid input. */
export function waitWithoutAgents(config: string): Promise<CliRun> {
  return runPrepull(["wait", "--agents", "127.0.0.1:1", "--config", config, "-t", "0s", "-o", "json"]);
}
