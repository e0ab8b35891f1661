import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { composeKustomization, renderKustomization, type KubeObject } from "./kustomize.ts";

// The readiness gate's two components: what they give the agent, and whom they give a token.
const DEPLOY = resolve("deploy");

async function baseWith(component: string): Promise<KubeObject[]> {
  const dir = await mkdtemp(join(tmpdir(), `prepull-gate-${component}-`));
  try {
    await composeKustomization(dir, "base", [component]);
    return renderKustomization(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Container {
  name: string;
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface Pod {
  automountServiceAccountToken?: boolean;
  containers: Container[];
  volumes?: Array<{ name: string; projected?: unknown }>;
}
const podOf = (objects: KubeObject[]): Pod =>
  (objects.find((o) => o.kind === "DaemonSet") as unknown as { spec: { template: { spec: Pod } } }).spec
    .template.spec;
const envOf = (container: Container | undefined): Record<string, string | undefined> =>
  Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
const rulesOf = (objects: KubeObject[], kind: string): unknown =>
  (objects.find((o) => o.kind === kind) as { rules?: unknown } | undefined)?.rules;

describe("components/readiness-gate", () => {
  it("lets the agent set its node's condition and remove the startup taint, and no more", async () => {
    const objects = await baseWith("readiness-gate");
    const pod = podOf(objects);
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(envOf(pod.containers.find((c) => c.name === "agent"))).toMatchObject({
      PREPULL_GATE_NODE_CONDITION: "true",
      PREPULL_GATE_REMOVE_TAINT: "startup-taint.cluster-autoscaler.kubernetes.io/prepull-warming:NoSchedule",
      PREPULL_GATE_AT_DEADLINE: "open",
    });
    expect(rulesOf(objects, "ClusterRole")).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "patch"] },
      { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
    ]);
    expect(rulesOf(objects, "Role")).toEqual([{ apiGroups: [""], resources: ["events"], verbs: ["create"] }]);
    const role = objects.find((o) => o.kind === "Role") as { metadata: { namespace?: string } };
    expect(role.metadata.namespace).toBe("prepull");
    // The admission policy names the agent's ServiceAccount in the namespace deploy/ installs it in.
    const policy = objects.find((o) => o.kind === "ValidatingAdmissionPolicy") as unknown as {
      spec: { matchConditions: Array<{ expression: string }> };
    };
    const binding = objects.find((o) => o.kind === "ClusterRoleBinding") as unknown as {
      subjects: Array<{ name: string; namespace: string }>;
    };
    const subject = binding.subjects[0];
    expect(policy.spec.matchConditions[0]?.expression).toBe(
      `request.userInfo.username == "system:serviceaccount:${subject?.namespace ?? "?"}:${subject?.name ?? "?"}"`,
    );
  });
});

describe("components/node-readiness-controller", () => {
  it("runs the controller's reporter beside the agent; only the reporter's container holds a token", async () => {
    const objects = await baseWith("node-readiness-controller");
    const pod = podOf(objects);
    expect(pod.automountServiceAccountToken).toBe(false);
    const agent = pod.containers.find((c) => c.name === "agent");
    const reporter = pod.containers.find((c) => c.name === "readiness-reporter");
    expect(agent?.volumeMounts?.some((m) => m.mountPath.startsWith("/var/run/secrets"))).toBe(false);
    expect(reporter?.volumeMounts).toEqual([
      { name: "reporter-token", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
    ]);
    expect(pod.volumes?.find((v) => v.name === "reporter-token")?.projected).toBeDefined();
    const agentPort = (agent as { ports?: Array<{ name: string; containerPort: number }> }).ports?.find(
      (p) => p.name === "http",
    )?.containerPort;
    expect(envOf(reporter)).toMatchObject({
      CHECK_ENDPOINT: `http://localhost:${String(agentPort)}/v1/gate`,
      CONDITION_TYPE: "prepull.dev/ImagesWarm",
    });
    expect(rulesOf(objects, "ClusterRole")).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
      { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch", "update"] },
    ]);
  });

  it("ships a bootstrap-only rule whose taint the controller accepts, on the condition the reporter sets", async () => {
    const rule = parse(
      await readFile(
        join(DEPLOY, "components", "node-readiness-controller", "node-readiness-rule.yaml"),
        "utf8",
      ),
    ) as {
      apiVersion: string;
      spec: {
        conditions: Array<{ type: string }>;
        taint: { key: string; effect: string };
        enforcementMode: string;
      };
    };
    expect(rule.apiVersion).toBe("readiness.node.x-k8s.io/v1alpha1");
    expect(rule.spec.enforcementMode).toBe("bootstrap-only");
    // The controller's CRD: the key must be readiness.k8s.io/<name> with a 1–63 character name.
    expect(rule.spec.taint.key).toMatch(
      /^readiness\.k8s\.io\/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    );
    expect(["NoSchedule", "PreferNoSchedule", "NoExecute"]).toContain(rule.spec.taint.effect);
    const objects = await baseWith("node-readiness-controller");
    const reporter = podOf(objects).containers.find((c) => c.name === "readiness-reporter");
    expect(rule.spec.conditions.map((c) => c.type)).toEqual([envOf(reporter).CONDITION_TYPE]);
  });
});
