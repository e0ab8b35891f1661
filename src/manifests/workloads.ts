import {
  Composer,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  type Document,
  type Node,
  type Scalar,
  type YAMLMap,
} from "yaml";

export type ContainerType = "container" | "initContainer" | "ephemeralContainer";

/** One container found in a manifest, with where its `image:` value sits in the text. */
export interface ContainerNode {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly container: string | undefined;
  readonly containerType: ContainerType;
  readonly image: unknown;
  readonly imageNode: Scalar | undefined;
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

const CONTAINER_FIELDS: ReadonlyArray<readonly [string, ContainerType]> = [
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

function lineOf(node: Node | undefined, lines: LineCounter): number | undefined {
  const start = node?.range?.[0];
  return start === undefined ? undefined : lines.linePos(start).line;
}

function* containersOf(
  object: unknown,
  document: Document,
  lines: LineCounter,
  problems: DocumentProblem[],
): Generator<ContainerNode> {
  const resolved = resolve(object, document);
  if (!isMap(resolved)) return;
  if (text(child(resolved, "kind", document)) === "List" || isSeq(child(resolved, "items", document))) {
    const items = child(resolved, "items", document);
    if (isSeq(items)) for (const item of items.items) yield* containersOf(item, document, lines, problems);
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
  for (const { spec, metadata: templateMetadata } of specs) {
    const ignoredRules = [...objectIgnores, ...ignoredRulesOf(templateMetadata, document)];
    for (const [field, containerType] of CONTAINER_FIELDS) {
      const list = child(spec, field, document);
      if (!isSeq(list)) continue;
      for (const item of list.items) {
        const container = resolve(item, document);
        if (isAlias(item) && container === undefined) {
          // Anchors do not reach across documents: `---` ends their scope.
          problems.push({
            line: lineOf(item, lines),
            message: `alias *${item.source} has no anchor in this document`,
          });
        }
        if (!isMap(container)) continue;
        // Through an alias, the anchored scalar itself: pinning it pins every alias of it.
        const imageResolved = resolve(container.get("image", true), document);
        const imageNode = isScalar(imageResolved) ? imageResolved : undefined;
        yield {
          kind,
          namespace: text(child(metadata, "namespace", document)),
          name: nameOf(metadata, document),
          container: text(child(container, "name", document)),
          containerType,
          image: imageNode?.value,
          imageNode,
          pullPolicy: (resolve(container.get("imagePullPolicy", true), document) as Scalar | undefined)
            ?.value,
          line: lineOf((imageResolved as Node | undefined) ?? container, lines),
          ignoredRules,
        };
      }
    }
  }
}

/**
 * Every container of every document in one YAML stream, plus the documents that do not parse.
 * Documents are composed one at a time and dropped once walked, so memory follows the largest
 * document rather than the whole stream.
 */
export function walkManifest(source: string): {
  containers: ContainerNode[];
  problems: DocumentProblem[];
  documents: number;
} {
  const lines = new LineCounter();
  const composer = new Composer();
  const containers: ContainerNode[] = [];
  const problems: DocumentProblem[] = [];
  let documents = 0;
  for (const document of composer.compose(new Parser(lines.addNewLine).parse(source))) {
    documents += 1;
    const error = document.errors[0];
    if (error !== undefined) {
      problems.push({
        line: lines.linePos(error.pos[0]).line,
        message: `not valid YAML: ${error.message.split("\n")[0] ?? ""}`,
      });
      continue;
    }
    const contents = document.contents;
    if (isMap(contents) && !contents.has("kind")) {
      problems.push({
        line: lineOf(contents, lines),
        message: "document has no kind: not a Kubernetes object",
      });
      continue;
    }
    containers.push(...containersOf(contents, document, lines, problems));
  }
  return { containers, problems, documents };
}
