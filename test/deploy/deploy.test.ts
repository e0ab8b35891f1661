import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { runPrepull } from "../cli/run-prepull.ts";
import {
  composeKustomization,
  key,
  renderKustomization,
  renderWithKubectl,
  type KubeObject,
} from "./kustomize.ts";
import {
  expectAgentNetworkPolicy,
  expectAgentPod,
  one,
  OPERATOR_KINDS,
  planOf,
  tempDir,
  validate,
  waitWithoutAgents,
  type Container,
  type NetworkPolicy,
  type PodSpec,
  type Workload,
} from "./manifest-checks.ts";

const DEPLOY = resolve("deploy");

/** base with one component, as an operator would compose it in their own overlay. */
async function withComponent(component: string): Promise<string> {
  const dir = await tempDir(`prepull-kustomize-${component}-`);
  await composeKustomization(dir, "base", [component]);
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

/** Variants whose pod runs the Node Readiness Controller's reporter beside the agent. */
const WITH_REPORTER = new Set(["base + components/node-readiness-controller"]);

function byKey(objects: KubeObject[]): Map<string, KubeObject> {
  return new Map(objects.map((object) => [key(object), object]));
}

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
    const { pod } = expectAgentPod(one(rendered, "DaemonSet") as Workload, {
      containers: WITH_REPORTER.has(name) ? ["agent", "readiness-reporter"] : ["agent"],
      serviceAccountToken: WITH_AGENT_TOKEN.has(name),
      tolerations: [{ operator: "Exists" }],
    });
    expect(pod.priorityClassName).toBe("prepull");
    const service = one(rendered, "Service") as {
      spec: { clusterIP: string; publishNotReadyAddresses: boolean };
    };
    expect(service.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
  });

  it("lets only the warm-up Job and Prometheus reach the agents, on the HTTP port", async () => {
    expectAgentNetworkPolicy(renderKustomization(await locate()), "monitoring");
  });

  it("passes prepull's own plan with no warnings, and its ImageSets load", async () => {
    const rendered = renderKustomization(await locate());
    const dir = await tempDir("prepull-rendered-");
    const plan = await planOf(rendered, dir);
    expect(plan.stderr).toBe("");
    expect(plan.stdout).toContain("0 errors, 0 warnings");
    expect(plan.code).toBe(0);

    const configMap = rendered.find((o) => o.kind === "ConfigMap") as unknown as {
      data: Record<string, string>;
    };
    for (const [name, text] of Object.entries(configMap.data)) {
      const setFile = join(dir, name);
      await writeFile(setFile, text);
      const wait = await waitWithoutAgents(setFile);
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
