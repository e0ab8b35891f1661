import { describe, expect, it } from "vitest";
import { isHook, renderChart, requireHelm } from "../kubernetes/helm-support.ts";
import { COMBINATIONS, type Rule } from "./chart-combinations.ts";
import type { KubeObject } from "./kustomize.ts";
import { agentContainer, one, WARM_UP_PEER, type PodSpec, type Workload } from "./manifest-checks.ts";

// charts/prepull's `helm test` hook, over the combinations of its values: a Pod that runs
// `prepull wait` for exactly this release's agents, through its headless Service, as an account of
// its own with get on the release's DaemonSet alone, created before the Pod.

requireHelm();

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
  expect(testPod.metadata.labels).toMatchObject(WARM_UP_PEER.podSelector.matchLabels);

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
  it("has a helm test hook that waits for this release's agents with get on its DaemonSet alone", async () => {
    expectTestHook(await renderChart(values, release), release?.namespace ?? "prepull");
  });
});
