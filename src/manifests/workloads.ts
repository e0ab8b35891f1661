import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Document,
  type Node,
  type Scalar,
  type YAMLMap,
} from "yaml";

/** Where in a pod spec an image is named; kubelet pulls each the same way (KEP-4639 for volumes). */
export type ImageSource = "container" | "initContainer" | "ephemeralContainer" | "imageVolume";

/** One image found in a manifest, with where its value sits in the text. */
export interface ImageNode {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  /** The container's name, or the volume's for an image volume. */
  readonly container: string | undefined;
  readonly source: ImageSource;
  /** `image`, or `volumes[].image.reference`. */
  readonly image: unknown;
  readonly imageNode: Scalar | undefined;
  /** `imagePullPolicy`, or `volumes[].image.pullPolicy`. */
  readonly pullPolicy: unknown;
  readonly line: number | undefined;
  /** Rule ids or names listed in a `prepull.dev/ignore` annotation of the object or its pod template. */
  readonly ignoredRules: readonly string[];
}

/** Annotation that exempts a workload from lint rules, as kube-score and kube-linter allow. */
export const IGNORE_ANNOTATION = "prepull.dev/ignore";

export interface DocumentProblem {
  readonly line: number | undefined;
  readonly message: string;
}

const CONTAINER_FIELDS: ReadonlyArray<readonly [string, ImageSource]> = [
  ["initContainers", "initContainer"],
  ["containers", "container"],
  ["ephemeralContainers", "ephemeralContainer"],
];

/** Kinds whose whole point is a pod: one without a pod spec is a broken manifest, not a non-workload. */
const POD_KINDS: ReadonlyMap<string, string> = new Map([
  ["Pod", "spec"],
  ["Deployment", "spec.template.spec"],
  ["ReplicaSet", "spec.template.spec"],
  ["StatefulSet", "spec.template.spec"],
  ["DaemonSet", "spec.template.spec"],
  ["ReplicationController", "spec.template.spec"],
  ["Job", "spec.template.spec"],
  ["CronJob", "spec.jobTemplate.spec.template.spec"],
]);

function resolve(node: unknown, document: Document): unknown {
  return isAlias(node) ? node.resolve(document) : node;
}

function child(node: unknown, key: string, document: Document): unknown {
  const map = resolve(node, document);
  return isMap(map) ? resolve(map.get(key, true), document) : undefined;
}

function text(node: unknown): string | undefined {
  return isScalar(node) && typeof node.value === "string" ? node.value : undefined;
}

/** `metadata.name`, or `generateName*` for objects the API server names (Jobs created with -f). */
function nameOf(metadata: unknown, document: Document): string | undefined {
  const generated = text(child(metadata, "generateName", document));
  return text(child(metadata, "name", document)) ?? (generated === undefined ? undefined : `${generated}*`);
}

function ignoredRulesOf(metadata: unknown, document: Document): string[] {
  const value = text(child(child(metadata, "annotations", document), IGNORE_ANNOTATION, document));
  return value === undefined ? [] : value.split(/[\s,]+/).filter((rule) => rule !== "");
}

/** Pod specs of an object: a Pod's own, or a template at spec.template / spec.jobTemplate.spec.template. */
function podSpecs(object: YAMLMap, document: Document): Array<{ spec: unknown; metadata: unknown }> {
  const kind = text(child(object, "kind", document));
  const spec = child(object, "spec", document);
  if (kind === "Pod") return isMap(spec) ? [{ spec, metadata: undefined }] : [];
  const templates = [
    child(spec, "template", document),
    child(child(child(spec, "jobTemplate", document), "spec", document), "template", document),
  ];
  return templates
    .map((template) => ({
      spec: child(template, "spec", document),
      metadata: child(template, "metadata", document),
    }))
    .filter((found) => isMap(found.spec));
}

export function lineOf(node: Node | undefined, lines: LineCounter): number | undefined {
  const start = node?.range?.[0];
  return start === undefined ? undefined : lines.linePos(start).line;
}

/** One image found in a pod spec: a container's `image` or an image volume's `reference`. */
function imageOf(
  owner: YAMLMap,
  imageKey: string,
  policyKey: string,
  document: Document,
  lines: LineCounter,
): Pick<ImageNode, "image" | "imageNode" | "pullPolicy" | "line"> {
  // Through an alias, the anchored scalar itself: pinning it pins every alias of it.
  const imageResolved = resolve(owner.get(imageKey, true), document);
  const imageNode = isScalar(imageResolved) ? imageResolved : undefined;
  return {
    image: imageNode?.value,
    imageNode,
    pullPolicy: (resolve(owner.get(policyKey, true), document) as Scalar | undefined)?.value,
    line: lineOf((imageResolved as Node | undefined) ?? owner, lines),
  };
}

/** Items of a pod spec list, each resolved through its alias; an alias without anchor is a problem. */
function* listItems(
  spec: unknown,
  field: string,
  document: Document,
  lines: LineCounter,
  problems: DocumentProblem[],
): Generator<YAMLMap> {
  const list = child(spec, field, document);
  if (!isSeq(list)) return;
  for (const item of list.items) {
    const resolved = resolve(item, document);
    if (isAlias(item) && resolved === undefined) {
      // Anchors do not reach across documents: `---` ends their scope.
      problems.push({
        line: lineOf(item, lines),
        message: `alias *${item.source} has no anchor in this document`,
      });
    }
    if (isMap(resolved)) yield resolved;
  }
}

/** Every image of a Kubernetes object, or of every object of a List. */
export function* imagesOf(
  object: unknown,
  document: Document,
  lines: LineCounter,
  problems: DocumentProblem[],
): Generator<ImageNode> {
  const resolved = resolve(object, document);
  if (!isMap(resolved)) return;
  if (text(child(resolved, "kind", document)) === "List" || isSeq(child(resolved, "items", document))) {
    const items = child(resolved, "items", document);
    if (isSeq(items)) for (const item of items.items) yield* imagesOf(item, document, lines, problems);
    return;
  }
  const metadata = child(resolved, "metadata", document);
  const kind = text(child(resolved, "kind", document)) ?? "<no kind>";
  const specs = podSpecs(resolved, document);
  const expected = POD_KINDS.get(kind);
  if (specs.length === 0 && expected !== undefined) {
    problems.push({
      line: lineOf(resolved, lines),
      message: `${kind} ${nameOf(metadata, document) ?? "<unnamed>"} has no pod spec at ${expected}`,
    });
  }
  const objectIgnores = ignoredRulesOf(metadata, document);
  const owner = {
    kind,
    namespace: text(child(metadata, "namespace", document)),
    name: nameOf(metadata, document),
  };
  for (const { spec, metadata: templateMetadata } of specs) {
    const ignoredRules = [...objectIgnores, ...ignoredRulesOf(templateMetadata, document)];
    for (const [field, source] of CONTAINER_FIELDS) {
      for (const container of listItems(spec, field, document, lines, problems)) {
        yield {
          ...owner,
          container: text(child(container, "name", document)),
          source,
          ...imageOf(container, "image", "imagePullPolicy", document, lines),
          ignoredRules,
        };
      }
    }
    for (const volume of listItems(spec, "volumes", document, lines, problems)) {
      const image = child(volume, "image", document);
      if (!isMap(image)) continue;
      yield {
        ...owner,
        container: text(child(volume, "name", document)),
        source: "imageVolume",
        ...imageOf(image, "reference", "pullPolicy", document, lines),
        ignoredRules,
      };
    }
  }
}
