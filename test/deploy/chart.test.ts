import { describe, expect, it } from "vitest";
import { CHART, helm, isHook, renderChart, requireHelm, valuesFile } from "../kubernetes/helm-support.ts";
import { COMBINATIONS, gateOf, type Rule } from "./chart-combinations.ts";
import { key, type KubeObject } from "./kustomize.ts";
import {
  expectAgentNetworkPolicy,
  expectAgentPod,
  one,
  OPERATOR_KINDS,
  validate,
  type Workload,
} from "./manifest-checks.ts";

// charts/prepull over the combinations of its values (chart-combinations.ts): `helm lint --strict`
// passes, every object passes the Kubernetes schema in the release's namespace, the agent keeps
// deploy/base's security posture whatever the values (the checks deploy.test.ts makes of deploy/),
// and the warm-up Job gets its Role when asked to. The `helm test` hook is held in
// chart-test-hook.test.ts, the readiness gate's grants in chart-readiness-gate.test.ts, what
// prepull and the operator read of the output in chart-output.test.ts; what the defaults and each
// overlay render, to deploy/ by chart-equivalence.test.ts; what the values refuse, by
// chart-values.test.ts.

requireHelm();

/** The Node Readiness Controller's kind, from its CRD: chart-readiness-gate.test.ts reads its fields. */
const CONTROLLER_KINDS = new Set(["NodeReadinessRule"]);
const CLUSTER_SCOPED = new Set([
  "PriorityClass",
  "ClusterRole",
  "ClusterRoleBinding",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "NodeReadinessRule",
]);

/** deploy/base's posture for the agent, whatever the values. */
function expectAgentPosture(objects: readonly KubeObject[], values: Record<string, unknown>): void {
  const gate = gateOf(values).mode ?? "none";
  const { pod } = expectAgentPod(one(objects, "DaemonSet") as Workload, {
    // The reporter, with the Node Readiness Controller, is the only other container.
    containers: gate === "nodeReadinessController" ? ["agent", "readiness-reporter"] : ["agent"],
    // A token in the agent's container only for the gate in the agent.
    serviceAccountToken: gate === "agent",
    tolerations: (values.tolerations as unknown[] | undefined) ?? [{ operator: "Exists" }],
  });

  // The agent's ServiceAccount mounts no token of itself (the gate's pod asks for one), and has no
  // Role unless the gate needs one (chart-readiness-gate.test.ts).
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

  const prometheus = (values.networkPolicy as { prometheusNamespace?: string } | undefined)
    ?.prometheusNamespace;
  expectAgentNetworkPolicy(objects, prometheus ?? "monitoring");
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

  it("grants the warm-up Job get on this release's DaemonSet, when asked to", async () => {
    const objects = (await renderChart(values, release)).filter((object) => !isHook(object));
    const roles = objects.filter((object) => object.kind === "Role") as unknown as Array<{ rules: Rule[] }>;
    const daemonSet = one(objects, "DaemonSet") as Workload;
    const wanted = (values.warmUp as { rbac?: boolean } | undefined)?.rbac ?? true;
    // Besides it, only the gate's events Role (chart-readiness-gate.test.ts says whom it binds).
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
});
