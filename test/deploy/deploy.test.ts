import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { runPrepull } from "../cli/run-prepull.ts";
import { key, renderKustomization, renderWithKubectl, type KubeObject } from "./kustomize.ts";

const DEPLOY = resolve("deploy");
const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** base with one component, as an operator would compose it in their own overlay. */
async function withComponent(component: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `prepull-kustomize-${component}-`));
  temps.push(dir);
  await writeFile(
    join(dir, "kustomization.yaml"),
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: [relative(dir, join(DEPLOY, "base"))],
      components: [relative(dir, join(DEPLOY, "components", component))],
    }),
  );
  return dir;
}

const overlays = (await readdir(join(DEPLOY, "overlays"))).sort();
const components = (await readdir(join(DEPLOY, "components"))).sort();
const targets: Array<[string, () => Promise<string>]> = [
  ["base", () => Promise.resolve(join(DEPLOY, "base"))],
  ...overlays.map((name): [string, () => Promise<string>] => [
    `overlays/${name}`,
    () => Promise.resolve(join(DEPLOY, "overlays", name)),
  ]),
  ...components.map((name): [string, () => Promise<string>] => [
    `base + components/${name}`,
    () => withComponent(name),
  ]),
];

/** What a component adds to the base's objects. */
const ADDED_KINDS: Readonly<Record<string, readonly string[]>> = {
  "base + components/monitoring": ["PodMonitor", "PrometheusRule"],
  "base + components/node-readiness-controller": ["ClusterRole", "ClusterRoleBinding"],
  "base + components/readiness-gate": [
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
  ],
};

/** Variants whose agent reaches the API server with a token (the readiness gate's own RBAC). */
const WITH_AGENT_TOKEN = new Set(["base + components/readiness-gate"]);

/**
 * The Prometheus Operator's kinds: kubernetes-models has no schema for them, so they are checked
 * where they are made for, in test/monitoring (promtool on the rules, selectors against the pods).
 */
const OPERATOR_KINDS = new Set(["PodMonitor", "PrometheusRule"]);

/** Validates against the Kubernetes OpenAPI schema of the object's own apiVersion and kind. */
async function validate(object: KubeObject): Promise<void> {
  const module = (await import(
    /* @vite-ignore */ `kubernetes-models/${object.apiVersion}/${object.kind}`
  )) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[object.kind];
  if (Model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

function byKey(objects: KubeObject[]): Map<string, KubeObject> {
  return new Map(objects.map((object) => [key(object), object]));
}

interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  securityContext?: Record<string, unknown>;
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  args?: string[];
  ports?: Array<{ name: string; containerPort: number }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{ name: string; hostPath?: { path: string } }>;
  tolerations?: unknown[];
  priorityClassName?: string;
  securityContext?: { seccompProfile?: { type: string } };
  automountServiceAccountToken?: boolean;
}

/** A runtime's root holds every image's layers and blobs: the agent never needs to see it. */
const RUNTIME_ROOTS = ["/var/lib/containerd", "/var/lib/containers", "/var/lib/rancher/k3s/agent/containerd"];

interface NetworkPolicy {
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

describe.each(targets)("deploy/%s", (name, locate) => {
  it("renders as kubectl kustomize renders it, and every object passes the Kubernetes schema", async () => {
    const dir = await locate();
    const rendered = renderKustomization(dir);
    const kubectl = await renderWithKubectl(dir);
    if (kubectl !== undefined) expect(byKey(rendered)).toEqual(byKey(kubectl));
    expect(rendered.map((o) => o.kind).sort()).toEqual(
      [
        "ConfigMap",
        "DaemonSet",
        "Namespace",
        "NetworkPolicy",
        "PriorityClass",
        "Service",
        "ServiceAccount",
        ...(ADDED_KINDS[name] ?? []),
      ].sort(),
    );
    for (const object of rendered) if (!OPERATOR_KINDS.has(object.kind)) await validate(object);
  });

  it("gives the agent the socket's directory and nothing broad, no privileges, probes, limits and its node name", async () => {
    const rendered = renderKustomization(await locate());
    const daemonSet = rendered.find((o) => o.kind === "DaemonSet") as unknown as {
      spec: { template: { spec: PodSpec }; updateStrategy: { type: string } };
    };
    const pod = daemonSet.spec.template.spec;
    const agent = pod.containers.find((c) => c.name === "agent");
    if (agent === undefined) throw new Error("no agent container");

    const hostPaths = (pod.volumes ?? []).flatMap((v) => (v.hostPath ? [v.hostPath.path] : []));
    expect(hostPaths.length).toBeGreaterThan(0);
    for (const path of hostPaths) expect(BROAD_HOST_PATHS.has(path.replace(/\/+$/, "") || "/")).toBe(false);
    const socketVolume = pod.volumes?.find((v) => v.name === "runtime-socket-dir");
    const endpoint = agent.env?.find((e) => e.name === "CONTAINER_RUNTIME_ENDPOINT")?.value ?? "";
    const socketMount = agent.volumeMounts?.find((m) => m.name === "runtime-socket-dir");
    expect(endpoint.startsWith(`unix://${socketMount?.mountPath ?? "?"}/`)).toBe(true);
    expect(socketVolume?.hostPath?.path).toMatch(/crio|containerd/);
    for (const mount of agent.volumeMounts ?? []) {
      const volume = pod.volumes?.find((v) => v.name === mount.name);
      if (volume?.hostPath !== undefined) expect(mount.readOnly).toBe(true);
    }

    for (const path of hostPaths) {
      const trimmed = path.replace(/\/+$/, "");
      for (const root of RUNTIME_ROOTS) {
        const inside = trimmed === root || trimmed.startsWith(`${root}/`);
        // Inside a runtime's root only the disk guard's own empty directory is allowed.
        if (inside) expect(trimmed).toBe(`${root}/prepull-statfs`);
      }
    }
    expect(pod).not.toHaveProperty("hostNetwork");
    expect(pod).not.toHaveProperty("hostPID");
    expect(pod).not.toHaveProperty("hostIPC");
    expect(agent.securityContext?.privileged ?? false).toBe(false);

    expect(agent.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod.securityContext?.seccompProfile?.type).toBe("RuntimeDefault");
    expect(pod.automountServiceAccountToken).toBe(WITH_AGENT_TOKEN.has(name));
    expect(pod.tolerations).toEqual([{ operator: "Exists" }]);
    expect(pod.priorityClassName).toBe("prepull");
    expect(agent.imagePullPolicy).toBeDefined();
    expect(agent.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: "probes" } });
    expect(agent.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: "probes" } });
    // The named port is the one the agent's probe port listens on.
    const probePort = agent.ports?.find((p) => p.name === "probes")?.containerPort;
    expect(agent.args).toContain(`--probe-listen=0.0.0.0:${String(probePort)}`);
    expect(agent.ports?.find((p) => p.name === "http")?.containerPort).not.toBe(probePort);
    expect(Object.keys(agent.resources?.requests ?? {}).sort()).toEqual(["cpu", "memory"]);
    expect(Object.keys(agent.resources?.limits ?? {})).toContain("memory");
    expect(agent.env?.find((e) => e.name === "NODE_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe(
      "spec.nodeName",
    );
    expect(daemonSet.spec.updateStrategy.type).toBe("RollingUpdate");

    const service = rendered.find((o) => o.kind === "Service") as unknown as {
      spec: { clusterIP: string; publishNotReadyAddresses: boolean };
    };
    expect(service.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
  });

  it("lets only the warm-up Job and Prometheus reach the agents, on the HTTP port", async () => {
    const rendered = renderKustomization(await locate());
    const policies = rendered.filter((o) => o.kind === "NetworkPolicy") as unknown as NetworkPolicy[];
    expect(policies).toHaveLength(1);
    const [policy] = policies as [NetworkPolicy];
    const daemonSet = rendered.find((o) => o.kind === "DaemonSet") as unknown as {
      metadata: { namespace: string };
      spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
    };
    expect(policy.metadata.namespace).toBe(daemonSet.metadata.namespace);
    const podLabels = daemonSet.spec.template.metadata.labels;
    for (const [name, value] of Object.entries(policy.spec.podSelector.matchLabels)) {
      expect(podLabels[name]).toBe(value);
    }
    expect(policy.spec.policyTypes).toEqual(["Ingress"]);
    expect(policy.spec.ingress).toHaveLength(1);
    const [rule] = policy.spec.ingress as [NetworkPolicy["spec"]["ingress"][number]];
    const agent = daemonSet.spec.template.spec.containers.find((c) => c.name === "agent") as Container & {
      ports: Array<{ name: string; containerPort: number }>;
    };
    expect(rule.ports).toEqual([{ port: "http", protocol: "TCP" }]);
    expect(agent.ports.map((p) => p.name)).toContain("http");
    // Every peer names someone: an empty selector or an open CIDR would let everyone in.
    expect(rule.from.length).toBeGreaterThan(0);
    for (const peer of rule.from) {
      expect(peer).not.toHaveProperty("ipBlock");
      const labels = { ...peer.podSelector?.matchLabels, ...peer.namespaceSelector?.matchLabels };
      expect(Object.keys(labels).length).toBeGreaterThan(0);
    }
    expect(rule.from).toContainEqual({
      podSelector: {
        matchLabels: { "app.kubernetes.io/name": "prepull", "app.kubernetes.io/component": "warm-up" },
      },
    });
    expect(rule.from).toContainEqual({
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
    });
  });

  it("passes prepull's own plan with no warnings, and its ImageSets load", async () => {
    const rendered = renderKustomization(await locate());
    const dir = await mkdtemp(join(tmpdir(), "prepull-rendered-"));
    temps.push(dir);
    const file = join(dir, "rendered.yaml");
    await writeFile(file, rendered.map((object) => stringify(object)).join("---\n"));
    const plan = await runPrepull(["plan", file, "--fail-on", "warning"]);
    expect(plan.stderr).toBe("");
    expect(plan.stdout).toContain("0 errors, 0 warnings");
    expect(plan.code).toBe(0);

    const configMap = rendered.find((o) => o.kind === "ConfigMap") as unknown as {
      data: Record<string, string>;
    };
    for (const [name, text] of Object.entries(configMap.data)) {
      const setFile = join(dir, name);
      await writeFile(setFile, text);
      const wait = await runPrepull([
        "wait",
        "--agents",
        "127.0.0.1:1",
        "--config",
        setFile,
        "-t",
        "0s",
        "-o",
        "json",
      ]);
      expect(wait.stderr).toBe("");
      expect(wait.code).toBe(1);
    }
  });
});

describe("deploy/examples", () => {
  it("validate against the Kubernetes schema and pass prepull's own plan with no warnings", async () => {
    const dirs = await readdir(join(DEPLOY, "examples"));
    const files: string[] = [];
    for (const dir of dirs) {
      for (const file of await readdir(join(DEPLOY, "examples", dir)))
        files.push(join(DEPLOY, "examples", dir, file));
    }
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      for (const document of parseAllDocuments(await readFile(file, "utf8"))) {
        await validate(document.toJS() as KubeObject);
      }
    }
    const plan = await runPrepull(["plan", join(DEPLOY, "examples"), "--fail-on", "warning"]);
    expect(plan.stdout).toContain("0 errors, 0 warnings");
    expect(plan.code).toBe(0);
  });

  it("run the warm-up as `prepull wait` against the headless Service and the agents' own ConfigMap", async () => {
    const job = parseAllDocuments(
      await readFile(join(DEPLOY, "examples/warm-up-job/job.yaml"), "utf8"),
    )[0]?.toJS() as {
      metadata: { namespace: string };
      spec: {
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: Container[]; volumes: Array<{ configMap?: { name: string } }> };
        };
      };
    };
    const container = job.spec.template.spec.containers[0] as Container & {
      args: string[];
      env: Array<{ name: string; value: string }>;
    };
    expect(container.args[0]).toBe("wait");
    // It expects an agent on every node of the base's DaemonSet, and may read that one object only.
    const daemonSet = renderKustomization(join(DEPLOY, "base")).find((o) => o.kind === "DaemonSet");
    expect(container.env).toContainEqual({ name: "PREPULL_DAEMONSET", value: daemonSet?.metadata.name });
    const rbac = parseAllDocuments(
      await readFile(join(DEPLOY, "examples/warm-up-job/rbac.yaml"), "utf8"),
    ).map((document) => document.toJS() as { kind: string; rules?: unknown });
    expect(rbac.find((o) => o.kind === "Role")?.rules).toEqual([
      {
        apiGroups: ["apps"],
        resources: ["daemonsets"],
        resourceNames: [daemonSet?.metadata.name],
        verbs: ["get"],
      },
    ]);
    expect(container.args).toContain("--agents-dns=prepull-agents.prepull.svc:8080");
    expect(job.spec.template.spec.volumes.map((v) => v.configMap?.name)).toContain("prepull-imagesets");
    const policy = renderKustomization(join(DEPLOY, "base")).find(
      (o) => o.kind === "NetworkPolicy",
    ) as unknown as NetworkPolicy;
    const admitted = policy.spec.ingress[0]?.from.find((peer) => peer.podSelector !== undefined);
    expect(job.metadata.namespace).toBe("prepull");
    expect(job.spec.template.metadata.labels).toMatchObject(
      admitted?.podSelector?.matchLabels ?? { none: "" },
    );
    const warmOnce = parseAllDocuments(
      await readFile(join(DEPLOY, "examples/warm-before-upgrade/daemonset.yaml"), "utf8"),
    )[0]?.toJS() as { spec: { template: { spec: PodSpec } } };
    const init = warmOnce.spec.template.spec.initContainers?.[0] as Container & { args: string[] };
    expect(init.args[0]).toBe("warm");
    expect(warmOnce.spec.template.spec.containers.every((c) => !("command" in c))).toBe(true);
  });
});
