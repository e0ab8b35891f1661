import { describe, expect, it } from "vitest";
import { isHook, renderChart, requireHelm } from "../kubernetes/helm-support.ts";
import { AGENT_TAINT, COMBINATIONS, CONTROLLER_TAINT, gateOf, type Rule } from "./chart-combinations.ts";
import type { KubeObject } from "./kustomize.ts";
import { agentContainer, one, type Container, type Workload } from "./manifest-checks.ts";

// charts/prepull's readiness gate, over the combinations of its values: in either mode and in
// another release and namespace, the agent's settings, and the token it grants holds exactly the
// component's rules, for this release's ServiceAccount, with an admission policy that names that
// account; nothing at all with the gate off.

requireHelm();

const REPORTER_IMAGE = "registry.k8s.io/node-readiness-controller/node-readiness-reporter:v0.5.0";
const TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

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

describe.each(Object.entries(COMBINATIONS))("charts/prepull with %s", (_name, { values, release }) => {
  it("gives the readiness gate what it needs and nothing more, or nothing with the gate off", async () => {
    expectGate(await renderChart(values, release), values, release?.namespace ?? "prepull");
  });
});
