import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { runPrepull } from "../cli/run-prepull.ts";
import {
  CHART,
  helm,
  helmOk,
  isHook,
  renderChart,
  requireHelm,
  valuesFile,
  type RenderOptions,
} from "../kubernetes/helm-support.ts";
import { key, type KubeObject } from "./kustomize.ts";

// charts/prepull over the combinations of its values: `helm lint --strict` passes, every object
// passes the Kubernetes schema, the agent keeps deploy/base's security posture whatever the
// values, and the `helm test` hook waits for exactly this release's agents with get on its
// DaemonSet alone, and the readiness gate grants its token what the gate needs and nothing more,
// fenced to this release's ServiceAccount. What the defaults and each overlay render is held to
// deploy/ by chart-equivalence.test.ts; what the values refuse, by chart-values.test.ts.

requireHelm();

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

const WEB_SET = {
  apiVersion: "prepull/v1",
  kind: "ImageSet",
  metadata: { name: "web" },
  spec: {
    images: [
      "ghcr.io/acme/web:2.0",
      { image: "ghcr.io/acme/api:v1.4.2", digest: `sha256:${"b".repeat(64)}`, pin: false },
    ],
  },
};

interface Combination {
  readonly values: Record<string, unknown>;
  readonly release?: RenderOptions;
}

const COMBINATIONS: Readonly<Record<string, Combination>> = {
  defaults: { values: {} },
  "CRI-O with the disk guard, pins off": {
    values: { runtime: { type: "cri-o" }, diskGuard: { enabled: true }, pinning: { enabled: false } },
  },
  "k3s with the disk guard, a pin budget and private registries": {
    values: {
      runtime: { type: "k3s" },
      diskGuard: { enabled: true, threshold: 85 },
      pinning: { budget: 30 },
      registryCredentials: { secretName: "pull-secrets" },
    },
  },
  "containerd air-gapped, with sockets, mirrors and the image filesystem elsewhere": {
    values: {
      runtime: { socketDir: "/var/run/containerd-alt", socketName: "cri.sock" },
      registryHosts: { enabled: true, dir: "/etc/containerd/mirrors.d" },
      diskGuard: { enabled: true, imageFsDir: "/mnt/images/prepull-statfs" },
    },
  },
  "monitoring, an existing PriorityClass, resources, tolerations and nodes of the operator's": {
    values: {
      monitoring: { enabled: true, labels: { release: "kube-prometheus-stack" } },
      priorityClass: { create: false, name: "system-node-critical" },
      resources: { requests: { cpu: "20m", memory: "96Mi" }, limits: { memory: "192Mi" } },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
      nodeSelector: { "kubernetes.io/os": "linux" },
      networkPolicy: { prometheusNamespace: "observability" },
      maxUnavailable: 2,
    },
  },
  "no PriorityClass, no warm-up RBAC, agent settings, the image by digest": {
    values: {
      priorityClass: { create: false },
      warmUp: { rbac: false },
      agent: { resync: "5m", concurrency: 8, env: { PREPULL_SPREAD: "2m", PREPULL_LOG_LEVEL: "debug" } },
      image: {
        repository: "registry.example.com/mirror/prepull",
        tag: "0.1.0",
        digest: `sha256:${"a".repeat(64)}`,
      },
    },
  },
  "ImageSets as YAML and as text, several files": {
    values: {
      imageSets: {
        "example.yaml": null,
        "web.yaml": WEB_SET,
        "platform.yml": stringify({
          ...WEB_SET,
          metadata: { name: "platform" },
          spec: { images: ["redis:7"] },
        }),
      },
    },
  },
  "another release in another namespace": { values: {}, release: { release: "edge", namespace: "infra" } },
  "the readiness gate in the agent, in another release and namespace, its own taint, no deadline": {
    values: {
      readinessGate: {
        mode: "agent",
        taint: "example.com/images-warm:NoExecute",
        deadline: 0,
        atDeadline: "hold",
      },
    },
    release: { release: "edge", namespace: "infra" },
  },
  "the readiness gate in the agent, on k3s, with the disk guard and no warm-up RBAC": {
    values: {
      readinessGate: { mode: "agent", deadline: "10m" },
      runtime: { type: "k3s" },
      diskGuard: { enabled: true },
      warmUp: { rbac: false },
    },
  },
  "the readiness gate through the Node Readiness Controller, its rule and a mirrored reporter": {
    values: {
      readinessGate: {
        mode: "nodeReadinessController",
        taint: "readiness.k8s.io/images-warm:PreferNoSchedule",
        atDeadline: "hold",
        reporterImage: `registry.example.com/mirror/node-readiness-reporter:v0.5.0@sha256:${"d".repeat(64)}`,
        nodeReadinessRule: { create: true },
      },
      monitoring: { enabled: true },
    },
    release: { release: "edge", namespace: "infra" },
  },
  "the readiness gate through the Node Readiness Controller, without its rule": {
    values: { readinessGate: { mode: "nodeReadinessController" }, fullnameOverride: "warm" },
  },
  fullnameOverride: { values: { fullnameOverride: "warm" } },
};

/** The Prometheus Operator's kinds, which kubernetes-models has no schema for (see deploy.test.ts). */
const OPERATOR_KINDS = new Set(["PodMonitor", "PrometheusRule"]);
/** The Node Readiness Controller's kind, from its CRD: checked field by field below instead. */
const CONTROLLER_KINDS = new Set(["NodeReadinessRule"]);
const CLUSTER_SCOPED = new Set([
  "PriorityClass",
  "ClusterRole",
  "ClusterRoleBinding",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "NodeReadinessRule",
]);
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
const RUNTIME_ROOTS = [
  "/var/lib/containerd",
  "/var/lib/containers/storage",
  "/var/lib/rancher/k3s/agent/containerd",
];

async function validate(object: KubeObject): Promise<void> {
  const module = (await import(
    /* @vite-ignore */ `kubernetes-models/${object.apiVersion}/${object.kind}`
  )) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[object.kind];
  if (Model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  ports?: Array<{ name: string; containerPort: number }>;
  securityContext?: Record<string, unknown>;
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
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
interface Workload {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

interface GateValues {
  mode?: "none" | "agent" | "nodeReadinessController";
  taint?: string;
  deadline?: string | number;
  atDeadline?: "open" | "hold";
  reporterImage?: string;
  nodeReadinessRule?: { create?: boolean };
}
const gateOf = (values: Record<string, unknown>): GateValues =>
  (values.readinessGate as GateValues | undefined) ?? {};
/** The taints each mode removes when readinessGate.taint is empty (deploy/components/…). */
const AGENT_TAINT = "startup-taint.cluster-autoscaler.kubernetes.io/prepull-warming:NoSchedule";
const CONTROLLER_TAINT = "readiness.k8s.io/prepull-images-warm:NoSchedule";
const REPORTER_IMAGE = "registry.k8s.io/node-readiness-controller/node-readiness-reporter:v0.5.0";
const TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The one object of `kind` (that `filter` picks), for the caller to read as its shape. */
function one(
  objects: readonly KubeObject[],
  kind: string,
  filter: (o: KubeObject) => boolean = () => true,
): unknown {
  const found = objects.filter((object) => object.kind === kind && filter(object));
  if (found.length !== 1)
    throw new Error(`expected one ${kind}, found ${found.map(key).join(", ") || "none"}`);
  return found[0];
}

function agentContainer(pod: PodSpec): Container {
  const agent = pod.containers.find((container) => container.name === "agent");
  if (agent === undefined) throw new Error("no agent container");
  return agent;
}

/** deploy/base's posture for the agent, whatever the values. */
function expectAgentPosture(objects: readonly KubeObject[], values: Record<string, unknown>): void {
  const daemonSet = one(objects, "DaemonSet") as Workload;
  const pod = daemonSet.spec.template.spec;
  const agent = agentContainer(pod);
  const gate = gateOf(values).mode ?? "none";
  // The reporter, with the Node Readiness Controller, is the only other container.
  expect(pod.containers.map((container) => container.name)).toEqual(
    gate === "nodeReadinessController" ? ["agent", "readiness-reporter"] : ["agent"],
  );
  expect(pod).not.toHaveProperty("hostNetwork");
  expect(pod).not.toHaveProperty("hostPID");
  expect(pod).not.toHaveProperty("hostIPC");
  expect(pod).not.toHaveProperty("initContainers");
  // A token in the agent's container only for the gate in the agent; never one mounted by hand.
  expect(pod.automountServiceAccountToken).toBe(gate === "agent");
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
  // Host paths: the socket's own directory, and opt-in read-only views, never anything broad or
  // inside a runtime's root but the disk guard's empty directory.
  const hostPaths = (pod.volumes ?? []).flatMap((volume) => (volume.hostPath ? [volume] : []));
  expect(hostPaths.map((volume) => volume.name)).toContain("runtime-socket-dir");
  for (const volume of hostPaths) {
    const path = volume.hostPath?.path ?? "";
    expect(BROAD_HOST_PATHS.has(path), path).toBe(false);
    for (const root of RUNTIME_ROOTS) {
      expect(root.startsWith(`${path}/`), `${path} holds ${root}`).toBe(false);
      if (path === root || path.startsWith(`${root}/`)) expect(path).toBe(`${root}/prepull-statfs`);
    }
    const mounts = (agent.volumeMounts ?? []).filter((mount) => mount.name === volume.name);
    expect(mounts.length, volume.name).toBeGreaterThan(0);
    for (const mount of mounts) expect(mount.readOnly, mount.mountPath).toBe(true);
  }
  const socketMount = agent.volumeMounts?.find((mount) => mount.name === "runtime-socket-dir");
  const endpoint = agent.env?.find((variable) => variable.name === "CONTAINER_RUNTIME_ENDPOINT")?.value ?? "";
  expect(endpoint.startsWith(`unix://${socketMount?.mountPath ?? "?"}/`)).toBe(true);
  expect(agent.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: "probes" } });
  expect(agent.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: "probes" } });
  expect(agent.resources?.limits?.memory).toBeDefined();
  // Every variable is set once.
  const names = (agent.env ?? []).map((variable) => variable.name);
  expect(new Set(names).size).toBe(names.length);
  expect(pod.tolerations).toEqual(values.tolerations ?? [{ operator: "Exists" }]);

  // The agent's ServiceAccount mounts no token of itself (the gate's pod asks for one), and has no
  // Role unless the gate needs one (expectGate).
  const account = one(
    objects,
    "ServiceAccount",
    (object) => object.metadata.name === pod.serviceAccountName,
  ) as { automountServiceAccountToken: boolean };
  expect(account.automountServiceAccountToken).toBe(false);
  if (gate === "none") {
    for (const binding of objects.filter((object) => /RoleBinding$/.test(object.kind))) {
      const subjects = (binding as unknown as { subjects: Array<{ name: string }> }).subjects;
      expect(subjects.map((subject) => subject.name)).not.toContain(pod.serviceAccountName);
    }
  }

  // Only the warm-up (and `helm test`) and Prometheus reach the agents, on the http port.
  const policy = one(objects, "NetworkPolicy") as {
    spec: {
      podSelector: { matchLabels: Record<string, string> };
      ingress: Array<{
        from: Array<Record<string, { matchLabels: Record<string, string> }>>;
        ports: unknown[];
      }>;
    };
  };
  expect(daemonSet.spec.template.metadata.labels).toMatchObject(policy.spec.podSelector.matchLabels);
  expect(policy.spec.ingress).toHaveLength(1);
  expect(policy.spec.ingress[0]?.ports).toEqual([{ port: "http", protocol: "TCP" }]);
  const prometheus = (values.networkPolicy as { prometheusNamespace?: string } | undefined)
    ?.prometheusNamespace;
  expect(policy.spec.ingress[0]?.from).toEqual([
    {
      podSelector: {
        matchLabels: { "app.kubernetes.io/name": "prepull", "app.kubernetes.io/component": "warm-up" },
      },
    },
    { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": prometheus ?? "monitoring" } } },
  ]);
}

const envOf = (container: Container | undefined): Map<string, { value?: string; valueFrom?: unknown }> =>
  new Map((container?.env ?? []).map((variable) => [variable.name, variable]));

interface Binding {
  kind: string;
  metadata: { name: string; namespace?: string };
  roleRef: { kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}

/**
 * The readiness gate: the agent's settings, and whom the release gives a token and which rules:
 * exactly what deploy/components/readiness-gate or node-readiness-controller grants, for this
 * release's ServiceAccount in its namespace, and nothing with the gate off.
 */
function expectGate(
  objects: readonly KubeObject[],
  values: Record<string, unknown>,
  namespace: string,
): void {
  const gate = gateOf(values);
  const mode = gate.mode ?? "none";
  const released = objects.filter((object) => !isHook(object));
  const daemonSet = one(released, "DaemonSet") as Workload;
  const pod = daemonSet.spec.template.spec;
  const account = pod.serviceAccountName ?? "";
  const agent = agentContainer(pod);
  const env = envOf(agent);

  // Each binding that names the agent's ServiceAccount, with the rules it grants.
  const grants = (released.filter((object) => /RoleBinding$/.test(object.kind)) as unknown as Binding[])
    .filter((binding) =>
      binding.subjects.some(
        (subject) =>
          subject.kind === "ServiceAccount" && subject.name === account && subject.namespace === namespace,
      ),
    )
    .map((binding) => {
      const role = one(
        released,
        binding.roleRef.kind,
        (object) =>
          object.metadata.name === binding.roleRef.name &&
          (binding.roleRef.kind === "ClusterRole" ||
            object.metadata.namespace === binding.metadata.namespace),
      ) as { rules: Rule[] };
      return { binding: binding.kind, namespace: binding.metadata.namespace, rules: role.rules };
    })
    .sort((a, b) => a.binding.localeCompare(b.binding));
  const policies = released.filter((object) => object.kind.startsWith("ValidatingAdmissionPolicy"));
  const rules = released.filter((object) => object.kind === "NodeReadinessRule");
  const deadline = String(gate.deadline ?? "30m");
  const atDeadline = gate.atDeadline ?? "open";

  if (mode === "none") {
    expect(grants).toEqual([]);
    expect(policies).toEqual([]);
    expect(rules).toEqual([]);
    expect(released.filter((object) => object.kind.startsWith("Cluster"))).toEqual([]);
    expect([...env.keys()].filter((name) => name.startsWith("PREPULL_GATE_") || name === "POD_NAME")).toEqual(
      [],
    );
    return;
  }
  expect(env.get("PREPULL_GATE_DEADLINE")?.value).toBe(deadline);
  expect(env.get("PREPULL_GATE_AT_DEADLINE")?.value).toBe(atDeadline);

  if (mode === "agent") {
    expect(grants).toEqual([
      {
        binding: "ClusterRoleBinding",
        namespace: undefined,
        rules: [
          { apiGroups: [""], resources: ["nodes"], verbs: ["get", "patch"] },
          { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
        ],
      },
      {
        binding: "RoleBinding",
        namespace,
        rules: [{ apiGroups: [""], resources: ["events"], verbs: ["create"] }],
      },
    ]);
    expect(env.get("POD_NAME")?.valueFrom).toEqual({ fieldRef: { fieldPath: "metadata.name" } });
    expect(env.get("PREPULL_GATE_NODE_CONDITION")?.value).toBe("true");
    expect(env.get("PREPULL_GATE_REMOVE_TAINT")?.value).toBe(gate.taint ?? AGENT_TAINT);
    // The admission policy fences this release's ServiceAccount, in its namespace, to its node.
    const policy = one(policies, "ValidatingAdmissionPolicy") as {
      metadata: { name: string };
      spec: {
        failurePolicy: string;
        matchConstraints: { resourceRules: Array<{ operations: string[]; resources: string[] }> };
        matchConditions: Array<{ expression: string }>;
        validations: Array<{ expression: string; message: string }>;
      };
    };
    expect(policy.spec.failurePolicy).toBe("Fail");
    expect(policy.spec.matchConstraints.resourceRules).toMatchObject([
      { operations: ["UPDATE"], resources: ["nodes", "nodes/status"] },
    ]);
    expect(policy.spec.matchConditions.map((condition) => condition.expression)).toEqual([
      `request.userInfo.username == "system:serviceaccount:${namespace}:${account}"`,
    ]);
    expect(policy.spec.validations.map((validation) => validation.message)).toEqual([
      "the prepull agent may change only the node it runs on",
      "the prepull agent may remove a taint, never add one",
      "the prepull agent may not change a node's labels",
    ]);
    const binding = one(policies, "ValidatingAdmissionPolicyBinding") as {
      spec: { policyName: string; validationActions: string[] };
    };
    expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ["Deny"] });
    expect(rules).toEqual([]);
    return;
  }

  // The Node Readiness Controller: the reporter holds the token, the agent none.
  expect(grants).toEqual([
    {
      binding: "ClusterRoleBinding",
      namespace: undefined,
      rules: [
        { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
        { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch", "update"] },
      ],
    },
  ]);
  expect(policies).toEqual([]);
  for (const name of ["POD_NAME", "PREPULL_GATE_NODE_CONDITION", "PREPULL_GATE_REMOVE_TAINT"]) {
    expect(env.has(name), name).toBe(false);
  }
  const reporter = pod.containers.find((container) => container.name === "readiness-reporter");
  expect(reporter?.image).toBe(gate.reporterImage ?? REPORTER_IMAGE);
  const http = agent.ports?.find((port) => port.name === "http")?.containerPort;
  const reporterEnv = envOf(reporter);
  expect(reporterEnv.get("CHECK_ENDPOINT")?.value).toBe(`http://localhost:${String(http)}/v1/gate`);
  const condition = reporterEnv.get("CONDITION_TYPE")?.value;
  expect(condition).toBe("prepull.dev/ImagesWarm");
  expect(reporter?.securityContext).toMatchObject({
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  });
  expect(reporter?.volumeMounts).toEqual([{ name: "reporter-token", mountPath: TOKEN_DIR, readOnly: true }]);
  const token = pod.volumes?.find((volume) => volume.name === "reporter-token");
  expect(token?.projected?.sources.map((source) => Object.keys(source)[0])).toEqual([
    "serviceAccountToken",
    "configMap",
    "downwardAPI",
  ]);
  if (gate.nodeReadinessRule?.create !== true) {
    expect(rules).toEqual([]);
    return;
  }
  const [key = "", effect] = (gate.taint ?? CONTROLLER_TAINT).split(":");
  const rule = one(rules, "NodeReadinessRule") as {
    apiVersion: string;
    spec: {
      conditions: Array<{ type: string; requiredStatus: string }>;
      taint: { key: string; value: string; effect: string };
      enforcementMode: string;
    };
  };
  expect(rule.apiVersion).toBe("readiness.node.x-k8s.io/v1alpha1");
  expect(rule.spec.conditions).toEqual([{ type: condition, requiredStatus: "True" }]);
  expect(rule.spec.taint).toEqual({ key, value: "pending", effect });
  // The controller's CRD: readiness.k8s.io/<name>, a name of 1 to 63 characters.
  expect(rule.spec.taint.key).toMatch(/^readiness\.k8s\.io\/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
  expect(rule.spec.enforcementMode).toBe("bootstrap-only");
}

/** `helm test`'s Pod waits for this release's agents, as its own account with get on the DaemonSet alone. */
function expectTestHook(objects: readonly KubeObject[], namespace: string): void {
  const hooks = objects.filter(isHook);
  expect(hooks.map((object) => object.kind).sort()).toEqual(["Pod", "Role", "RoleBinding", "ServiceAccount"]);
  const annotation = (object: KubeObject, name: string): string | undefined =>
    (object.metadata.annotations as Record<string, string> | undefined)?.[name];
  for (const hook of hooks) expect(annotation(hook, "helm.sh/hook")).toBe("test");
  const testPod = one(hooks, "Pod") as { metadata: KubeObject["metadata"]; spec: PodSpec };
  // Its identity exists before it starts.
  for (const hook of hooks.filter((object) => object.kind !== "Pod")) {
    expect(Number(annotation(hook, "helm.sh/hook-weight"))).toBeLessThan(
      Number(annotation(testPod as unknown as KubeObject, "helm.sh/hook-weight")),
    );
  }
  const daemonSet = one(objects, "DaemonSet") as Workload;
  const service = one(objects, "Service") as {
    metadata: { name: string };
    spec: { clusterIP: string; publishNotReadyAddresses: boolean };
  };
  expect(service.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
  const configMap = one(objects, "ConfigMap") as { metadata: { name: string } };
  const wait = testPod.spec.containers[0];
  expect(testPod.spec.containers).toHaveLength(1);
  expect(wait?.args?.slice(0, 4)).toEqual([
    "wait",
    `--agents-dns=${service.metadata.name}.${namespace}.svc:8080`,
    "--config=/etc/prepull/imagesets",
    `--daemonset=${daemonSet.metadata.name}`,
  ]);
  expect(wait?.args?.some((arg) => /^--timeout=\d+[smh]$/.test(arg))).toBe(true);
  expect(wait?.image).toBe(agentContainer(daemonSet.spec.template.spec).image);
  expect(testPod.spec.volumes?.map((volume) => volume.configMap?.name)).toEqual([configMap.metadata.name]);
  expect(testPod.spec.restartPolicy).toBe("Never");
  expect(testPod.spec.securityContext).toMatchObject({
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
  });
  expect(wait?.securityContext).toEqual({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  });
  // The NetworkPolicy admits it.
  expect(testPod.metadata.labels).toMatchObject({
    "app.kubernetes.io/name": "prepull",
    "app.kubernetes.io/component": "warm-up",
  });

  const account = one(hooks, "ServiceAccount") as {
    metadata: { name: string };
    automountServiceAccountToken: boolean;
  };
  expect(testPod.spec.serviceAccountName).toBe(account.metadata.name);
  expect(testPod.spec.automountServiceAccountToken).toBe(true);
  const role = one(hooks, "Role") as { metadata: { name: string }; rules: Rule[] };
  expect(role.rules).toEqual([
    {
      apiGroups: ["apps"],
      resources: ["daemonsets"],
      resourceNames: [daemonSet.metadata.name],
      verbs: ["get"],
    },
  ]);
  const binding = one(hooks, "RoleBinding") as {
    roleRef: { kind: string; name: string };
    subjects: unknown[];
  };
  expect(binding.roleRef).toMatchObject({ kind: "Role", name: role.metadata.name });
  expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: account.metadata.name, namespace }]);
}

describe.each(Object.entries(COMBINATIONS))("charts/prepull with %s", (_name, { values, release }) => {
  const namespace = release?.namespace ?? "prepull";

  it("passes helm lint --strict", async () => {
    const file = await valuesFile(values);
    try {
      const lint = await helm(["lint", "--strict", CHART, "--namespace", namespace, "-f", file.path]);
      expect(lint.stdout + lint.stderr).toContain("0 chart(s) failed");
      expect(lint.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
      expect(lint.code).toBe(0);
    } finally {
      await file.remove();
    }
  });

  it("renders objects the Kubernetes schema accepts, in the release's namespace", async () => {
    const objects = await renderChart(values, release);
    for (const object of objects) {
      if (!OPERATOR_KINDS.has(object.kind) && !CONTROLLER_KINDS.has(object.kind)) await validate(object);
      expect(object.metadata.namespace, key(object)).toBe(
        CLUSTER_SCOPED.has(object.kind) ? undefined : namespace,
      );
    }
    const monitoring = (values.monitoring as { enabled?: boolean } | undefined)?.enabled === true;
    expect(objects.some((object) => OPERATOR_KINDS.has(object.kind))).toBe(monitoring);
  });

  it("keeps deploy/base's security posture for the agent", async () => {
    expectAgentPosture(await renderChart(values, release), values);
  });

  it("has a helm test hook that waits for this release's agents with get on its DaemonSet alone", async () => {
    expectTestHook(await renderChart(values, release), namespace);
  });

  it("grants the warm-up Job get on this release's DaemonSet, when asked to", async () => {
    const objects = (await renderChart(values, release)).filter((object) => !isHook(object));
    const roles = objects.filter((object) => object.kind === "Role") as unknown as Array<{ rules: Rule[] }>;
    const daemonSet = one(objects, "DaemonSet") as Workload;
    const wanted = (values.warmUp as { rbac?: boolean } | undefined)?.rbac ?? true;
    // Besides it, only the gate's events Role (expectGate says whom it binds).
    const gateEvents = gateOf(values).mode === "agent";
    const sorted = (rules: unknown[]): unknown[] =>
      [...rules].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(sorted(roles.map((role) => role.rules))).toEqual(
      sorted([
        ...(gateEvents ? [[{ apiGroups: [""], resources: ["events"], verbs: ["create"] }]] : []),
        ...(wanted
          ? [
              [
                {
                  apiGroups: ["apps"],
                  resources: ["daemonsets"],
                  resourceNames: [daemonSet.metadata.name],
                  verbs: ["get"],
                },
              ],
            ]
          : []),
      ]),
    );
  });

  it("gives the readiness gate what it needs and nothing more, or nothing with the gate off", async () => {
    expectGate(await renderChart(values, release), values, namespace);
  });
});

describe("charts/prepull's rendered objects, read by prepull itself", () => {
  it("pass prepull plan with no warnings, test hook included", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prepull-chart-plan-"));
    temps.push(dir);
    const file = join(dir, "rendered.yaml");
    const objects = await renderChart(
      COMBINATIONS["no PriorityClass, no warm-up RBAC, agent settings, the image by digest"]?.values,
    );
    await writeFile(file, objects.map((object) => stringify(object)).join("---\n"));
    const plan = await runPrepull(["plan", file, "--fail-on", "warning"]);
    expect(plan.stdout).toContain("0 errors, 0 warnings");
    expect(plan.code).toBe(0);
  });

  it.each([
    "the readiness gate in the agent, on k3s, with the disk guard and no warm-up RBAC",
    "the readiness gate through the Node Readiness Controller, its rule and a mirrored reporter",
  ])("pass prepull plan with no warnings with %s", async (name) => {
    const dir = await mkdtemp(join(tmpdir(), "prepull-chart-plan-"));
    temps.push(dir);
    const file = join(dir, "rendered.yaml");
    const combination = COMBINATIONS[name];
    if (combination === undefined) throw new Error(`no combination ${name}`);
    const objects = await renderChart(combination.values, combination.release);
    await writeFile(file, objects.map((object) => stringify(object)).join("---\n"));
    const plan = await runPrepull(["plan", file, "--fail-on", "warning"]);
    expect(plan.stdout).toContain("0 errors, 0 warnings");
    expect(plan.code).toBe(0);
  });

  it("hold ImageSets the agent loads, given as YAML or as text", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prepull-chart-sets-"));
    temps.push(dir);
    const objects = await renderChart(COMBINATIONS["ImageSets as YAML and as text, several files"]?.values);
    const { data } = one(objects, "ConfigMap") as { data: Record<string, string> };
    expect(Object.keys(data).sort()).toEqual(["platform.yml", "web.yaml"]);
    for (const [name, text] of Object.entries(data)) await writeFile(join(dir, name), text);
    // One round against no agent: the sets load (exit 1 is "not warm", 2 would be invalid input).
    const wait = await runPrepull([
      "wait",
      "--agents",
      "127.0.0.1:1",
      "--config",
      dir,
      "-t",
      "0s",
      "-o",
      "json",
    ]);
    expect(wait.stderr).toBe("");
    expect(wait.code).toBe(1);
  });

  it("say in NOTES.txt how to see that the nodes are warm", async () => {
    const notes = await helmOk(["install", "edge", CHART, "--namespace", "infra", "--dry-run=client"]);
    expect(notes).toContain("helm test edge -n infra --logs");
    expect(notes).toContain("ConfigMap infra/edge-prepull-imagesets");
    expect(notes).toContain("Set diskGuard.enabled=true");
    expect(notes).not.toContain("readiness gate");
  });

  it("say in NOTES.txt which taint to register new nodes with, and how to see the gate", async () => {
    const install = (...set: string[]): Promise<string> =>
      helmOk([
        "install",
        "edge",
        CHART,
        "--namespace",
        "infra",
        "--dry-run=client",
        ...set.flatMap((value) => ["--set", value]),
      ]);
    const agent = await install("readinessGate.mode=agent", "readinessGate.deadline=0");
    expect(agent).toContain(`register new nodes with the startup taint\n\n  ${AGENT_TAINT}\n`);
    expect(agent).toContain("There is no deadline: a node that never gets warm keeps the taint.");
    expect(agent).toContain("ValidatingAdmissionPolicy edge-prepull-readiness-gate-own-node");
    expect(agent).toContain("kubectl -n infra get events --field-selector reason=PrepullGateOpened");

    const withRule = await install(
      "readinessGate.mode=nodeReadinessController",
      "readinessGate.nodeReadinessRule.create=true",
      "readinessGate.atDeadline=hold",
    );
    expect(withRule).toContain("NodeReadinessRule edge-prepull-images-warm names the taint");
    expect(withRule).toContain("  readiness.k8s.io/prepull-images-warm=pending:NoSchedule\n");
    expect(withRule).toContain(
      "A gate still closed 30m after the agent starts stays closed (reason DeadlineHeld).",
    );

    const withoutRule = await install("readinessGate.mode=nodeReadinessController");
    expect(withoutRule).toContain("No NodeReadinessRule yet");
    expect(withoutRule).toContain("opens anyway (reason DeadlineOpened)");
    expect(withoutRule).not.toContain("=pending:");
  });
});
