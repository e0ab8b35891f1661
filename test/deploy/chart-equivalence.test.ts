import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HELM_LABELS, isHook, parseManifest, renderChart, requireHelm } from "../kubernetes/helm-support.ts";
import { composeKustomization, key, renderKustomization, type KubeObject } from "./kustomize.ts";

// One source of truth for the shape: charts/prepull, rendered with `helm template`, must give the
// objects deploy/ gives for the same choices. Ignored, and nothing else:
// - the labels Helm's conventions add (HELM_LABELS) in objects' metadata; `helm template` adds no
//   annotation (meta.helm.sh/release-* appear on install only);
// - the test hooks (`helm test`'s objects, which deploy/ has no counterpart of);
// - deploy/base's Namespace: a chart cannot create its release's namespace (Helm stores the
//   release there first), so `helm install --create-namespace` does, without the Pod Security
//   labels (docs/helm.md);
// - the order of named list items (env, volumes, mounts, ports, containers): kustomize puts a
//   patch's items first, the chart keeps one order, and Kubernetes reads them by name.
// deploy/examples/warm-up-job/rbac.yaml is part of the chart too (warmUp.rbac) and compared here,
// as is deploy/components/node-readiness-controller/node-readiness-rule.yaml
// (readinessGate.nodeReadinessRule.create), which is applied apart from its component.

requireHelm();

const DEPLOY = resolve("deploy");
const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

interface Variant {
  /** What an operator applies with kustomize: the base or an overlay, with components. */
  readonly resource: string;
  readonly components?: readonly string[];
  /** The chart's values for the same choices. */
  readonly values: () => Promise<Record<string, unknown>>;
}

const VARIANTS: Readonly<Record<string, Variant>> = {
  base: { resource: "base", values: () => Promise.resolve({}) },
  "overlays/cri-o": {
    resource: "overlays/cri-o",
    values: () => Promise.resolve({ runtime: { type: "cri-o" } }),
  },
  "overlays/k3s": { resource: "overlays/k3s", values: () => Promise.resolve({ runtime: { type: "k3s" } }) },
  "overlays/air-gapped": {
    resource: "overlays/air-gapped",
    // The overlay's locked ImageSet in place of the example, as its configMapGenerator does.
    values: async () => ({
      registryHosts: { enabled: true },
      imageSets: {
        "example.yaml": null,
        "platform.yaml": await readFile(join(DEPLOY, "overlays/air-gapped/imagesets/platform.yaml"), "utf8"),
      },
    }),
  },
  "components/air-gapped": {
    resource: "base",
    components: ["air-gapped"],
    values: () => Promise.resolve({ registryHosts: { enabled: true } }),
  },
  "components/disk-guard": {
    resource: "base",
    components: ["disk-guard"],
    values: () => Promise.resolve({ diskGuard: { enabled: true } }),
  },
  "components/bundles": {
    resource: "base",
    components: ["bundles"],
    values: () => Promise.resolve({ bundles: { enabled: true } }),
  },
  "components/private-registry": {
    resource: "base",
    components: ["private-registry"],
    values: () => Promise.resolve({ registryCredentials: { secretName: "prepull-registry-credentials" } }),
  },
  "components/monitoring": {
    resource: "base",
    components: ["monitoring"],
    values: () => Promise.resolve({ monitoring: { enabled: true } }),
  },
  "components/readiness-gate": {
    resource: "base",
    components: ["readiness-gate"],
    values: () => Promise.resolve({ readinessGate: { mode: "agent" } }),
  },
  "components/node-readiness-controller": {
    resource: "base",
    components: ["node-readiness-controller"],
    values: () => Promise.resolve({ readinessGate: { mode: "nodeReadinessController" } }),
  },
};

/** Overlays and components the chart has no values for, with why: none today. */
const NOT_IN_CHART: Readonly<Record<string, string>> = {};

/** The variant as kustomize renders it, through a kustomization of the test's own for components. */
async function kustomized(variant: Variant): Promise<KubeObject[]> {
  let dir = join(DEPLOY, variant.resource);
  if (variant.components !== undefined) {
    dir = await mkdtemp(join(tmpdir(), "prepull-chart-kustomize-"));
    temps.push(dir);
    await composeKustomization(dir, variant.resource, variant.components);
  }
  const rbac = parseManifest(await readFile(join(DEPLOY, "examples/warm-up-job/rbac.yaml"), "utf8"));
  return [...renderKustomization(dir), ...rbac];
}

const MERGE_KEYS: Readonly<Record<string, string>> = {
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  ports: "name",
  containers: "name",
  initContainers: "name",
};

/** The object with named lists in one order, and without what Helm's conventions add. */
function normalized(value: unknown, field = "", depth = 0): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => normalized(item, "", depth + 1));
    const mergeKey = MERGE_KEYS[field];
    if (mergeKey === undefined) return items;
    const sortKey = (item: unknown): string => String((item as Record<string, unknown>)[mergeKey]);
    return items.sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
  }
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value).map(([name, item]) => [name, normalized(item, name, depth + 1)]);
  const object = Object.fromEntries(entries) as Record<string, unknown>;
  if (field === "metadata" && depth === 1) {
    const helmLabels: readonly string[] = HELM_LABELS;
    object.labels = Object.fromEntries(
      Object.entries(object.labels ?? {}).filter(([label]) => !helmLabels.includes(label)),
    );
  }
  return object;
}

function byKey(objects: readonly KubeObject[]): Map<string, unknown> {
  return new Map(objects.map((object) => [key(object), normalized(object)]));
}

describe("charts/prepull renders what deploy/ does for the same choices", () => {
  it("has a variant for every overlay and component of deploy/, or says why not", async () => {
    const shipped = [
      ...(await readdir(join(DEPLOY, "overlays"))).map((name) => `overlays/${name}`),
      ...(await readdir(join(DEPLOY, "components"))).map((name) => `components/${name}`),
    ];
    const covered = [
      ...Object.keys(VARIANTS).filter((name) => name !== "base"),
      ...Object.keys(NOT_IN_CHART),
    ];
    expect(covered.sort()).toEqual(shipped.sort());
  });

  it.each(Object.keys(VARIANTS))("%s", async (name) => {
    const variant = VARIANTS[name];
    if (variant === undefined) throw new Error(`no variant ${name}`);
    const [chart, kustomize] = await Promise.all([renderChart(await variant.values()), kustomized(variant)]);
    const namespaces = kustomize.filter((object) => object.kind === "Namespace");
    expect(namespaces.map((object) => object.metadata.name)).toEqual(["prepull"]);
    expect(chart.filter((object) => object.kind === "Namespace")).toEqual([]);

    const released = chart.filter((object) => !isHook(object));
    const expected = byKey(kustomize.filter((object) => object.kind !== "Namespace"));
    const actual = byKey(released);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [objectKey, object] of expected) expect(actual.get(objectKey), objectKey).toEqual(object);
    // Helm's labels are there, on every object the release owns.
    for (const object of released) {
      expect(Object.keys(object.metadata.labels ?? {}), key(object)).toEqual(
        expect.arrayContaining([...HELM_LABELS]),
      );
    }
  });

  it("creates components/node-readiness-controller/node-readiness-rule.yaml when asked to, and only then", async () => {
    // The rule is applied apart from the component (its CRD comes with the controller), so no
    // variant above holds it: the chart's, off by default, must be the file's.
    const file = parseManifest(
      await readFile(join(DEPLOY, "components/node-readiness-controller/node-readiness-rule.yaml"), "utf8"),
    );
    expect(file.map((object) => object.kind)).toEqual(["NodeReadinessRule"]);
    const rules = (objects: readonly KubeObject[]): KubeObject[] =>
      objects.filter((object) => object.kind === "NodeReadinessRule");
    const gate = { mode: "nodeReadinessController" };
    expect(rules(await renderChart({ readinessGate: gate }))).toEqual([]);
    const created = rules(
      await renderChart({ readinessGate: { ...gate, nodeReadinessRule: { create: true } } }),
    );
    expect([...byKey(created)]).toEqual([...byKey(file)]);
  });

  it("holds deploy/monitoring/rules.yaml's groups in its PrometheusRule, in the same text", async () => {
    const copy = await readFile(resolve("charts/prepull/files/rules.yaml"), "utf8");
    const original = await readFile(join(DEPLOY, "monitoring/rules.yaml"), "utf8");
    const groups = (text: string): string => text.slice(text.indexOf("\ngroups:\n"));
    expect(groups(copy)).toBe(groups(original));
  });
});
