import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { parse, parseAllDocuments, stringify } from "yaml";

const run = promisify(execFile);

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; labels?: Record<string, string> } & Record<string, unknown>;
};

interface Kustomization {
  namespace?: string;
  resources?: string[];
  components?: string[];
  labels?: Array<{ pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }>;
  configMapGenerator?: Array<{
    name: string;
    behavior?: "create" | "replace" | "merge";
    files?: string[];
    options?: { disableNameSuffixHash?: boolean };
  }>;
  patches?: Array<{ path: string }>;
}

const CLUSTER_SCOPED = new Set(["Namespace", "PriorityClass", "ClusterRole", "ClusterRoleBinding"]);

/** Merge keys of the lists our patches touch, as the strategic-merge-patch schema defines them. */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  ports: "containerPort",
};

export const key = (object: KubeObject): string =>
  `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""}`;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A strategic merge patch, for the subset of the schema our manifests use. */
export function strategicMerge(target: unknown, patch: unknown, field = ""): unknown {
  if (Array.isArray(patch) && Array.isArray(target) && MERGE_KEYS[field] !== undefined) {
    const mergeKey = MERGE_KEYS[field];
    const matches = (a: unknown, b: unknown): boolean =>
      isRecord(a) && isRecord(b) && a[mergeKey] === b[mergeKey];
    const original = target as unknown[];
    // The patch's items come first, in its order (merged into their originals), then the
    // originals it did not name: the order kustomize writes.
    const patched = (patch as unknown[]).map((item) => {
      const existing = original.find((candidate) => matches(candidate, item));
      return existing === undefined ? item : strategicMerge(existing, item);
    });
    const untouched = original.filter((item) => !(patch as unknown[]).some((p) => matches(item, p)));
    return [...patched, ...untouched];
  }
  if (isRecord(patch) && isRecord(target)) {
    const merged: Record<string, unknown> = { ...target };
    for (const [name, value] of Object.entries(patch)) {
      merged[name] = name in target ? strategicMerge(target[name], value, name) : value;
    }
    return merged;
  }
  return patch;
}

function readObjects(file: string): KubeObject[] {
  // YAML 1.1, as kubectl reads manifests: `defaultMode: 0400` is octal there.
  return parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" })
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

function readKustomization(dir: string): Kustomization {
  return parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Kustomization;
}

/** Applies a kustomization's own generators and transformers to `objects`. */
function transform(dir: string, kustomization: Kustomization, input: KubeObject[]): KubeObject[] {
  let objects = input;
  for (const generator of kustomization.configMapGenerator ?? []) {
    if (generator.options?.disableNameSuffixHash !== true) {
      throw new Error(`${dir}: the test renderer only generates ConfigMaps without a name hash`);
    }
    const data = Object.fromEntries(
      (generator.files ?? []).map((file) => [basename(file), readFileSync(join(dir, file), "utf8")]),
    );
    const generated: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: generator.name },
      data,
    };
    if (generator.behavior === "replace") {
      const index = objects.findIndex((o) => o.kind === "ConfigMap" && o.metadata.name === generator.name);
      if (index === -1) throw new Error(`${dir}: no ConfigMap ${generator.name} to replace`);
      objects = objects.map((object, i) =>
        i === index
          ? { ...generated, metadata: { ...generated.metadata, ...pick(object.metadata) } }
          : object,
      );
    } else {
      objects = [...objects, generated];
    }
  }
  for (const { path } of kustomization.patches ?? []) {
    for (const patch of readObjects(join(dir, path))) {
      const index = objects.findIndex(
        (o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name,
      );
      if (index === -1) throw new Error(`${dir}/${path}: no ${patch.kind} ${String(patch.metadata.name)}`);
      objects[index] = strategicMerge(objects[index], patch) as KubeObject;
    }
  }
  for (const { pairs, includeSelectors, includeTemplates } of kustomization.labels ?? []) {
    if (includeSelectors === true || includeTemplates === true) {
      throw new Error(`${dir}: the test renderer only adds labels to metadata`);
    }
    objects = objects.map((object) => ({
      ...object,
      metadata: { ...object.metadata, labels: { ...object.metadata.labels, ...pairs } },
    }));
  }
  if (kustomization.namespace !== undefined) {
    const namespace = kustomization.namespace;
    objects = objects.map((object) =>
      CLUSTER_SCOPED.has(object.kind) ? object : { ...object, metadata: { ...object.metadata, namespace } },
    );
  }
  return objects;
}

/** Labels and namespace an object already carries survive a ConfigMap replacement, as in kustomize. */
function pick(metadata: KubeObject["metadata"]): Partial<KubeObject["metadata"]> {
  return {
    ...(metadata.namespace === undefined ? {} : { namespace: metadata.namespace }),
    ...(metadata.labels === undefined ? {} : { labels: metadata.labels }),
  };
}

/**
 * Renders a kustomization the way `kubectl kustomize` does, for the features deploy/ uses
 * (resources, components and their resources, namespace, metadata labels, unhashed ConfigMap generators, strategic
 * merge patches). Anything else is an error, never a silent difference.
 */
export function renderKustomization(dir: string): KubeObject[] {
  const kustomization = readKustomization(dir);
  let objects = resourcesOf(dir, kustomization);
  for (const component of kustomization.components ?? []) {
    const path = resolve(dir, component);
    const parsed = readKustomization(path);
    // A component's own resources join what it transforms, as in kustomize.
    objects = transform(path, parsed, [...objects, ...resourcesOf(path, parsed)]);
  }
  return transform(dir, kustomization, objects);
}

function resourcesOf(dir: string, kustomization: Kustomization): KubeObject[] {
  return (kustomization.resources ?? []).flatMap((resource) => {
    const path = resolve(dir, resource);
    return existsSync(join(path, "kustomization.yaml")) ? renderKustomization(path) : readObjects(path);
  });
}

/**
 * Writes into `dir` a kustomization of deploy/`resource` (the base or an overlay) with
 * deploy/components/`components`, as an operator composes them in an overlay of their own.
 */
export async function composeKustomization(
  dir: string,
  resource: string,
  components: readonly string[],
): Promise<void> {
  const deploy = resolve("deploy");
  await writeFile(
    join(dir, "kustomization.yaml"),
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: [relative(dir, join(deploy, resource))],
      components: components.map((name) => relative(dir, join(deploy, "components", name))),
    }),
  );
}

/** `kubectl kustomize DIR`, when kubectl is installed; undefined otherwise. */
export async function renderWithKubectl(dir: string): Promise<KubeObject[] | undefined> {
  try {
    await run("kubectl", ["version", "--client"]);
  } catch {
    return undefined;
  }
  const { stdout } = await run("kubectl", ["kustomize", dir], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((document) => document.toJS() as KubeObject);
}
