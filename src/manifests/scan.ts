import { DEFAULT_TAG, effectiveTag, tryParseReference, type ImageReference } from "../reference/index.ts";
import { walkManifest, type ContainerType } from "./workloads.ts";

export type PullPolicy = "Always" | "IfNotPresent" | "Never";

export interface ManifestSource {
  /** File name, or `-` for stdin: used in every message. */
  readonly name: string;
  readonly text: string;
}

export interface ScannedContainer {
  readonly file: string;
  readonly line: number | undefined;
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly container: string | undefined;
  readonly containerType: ContainerType;
  readonly image: string;
  /** Undefined when the image does not parse; lint reports it. */
  readonly reference: ImageReference | undefined;
  readonly referenceError: string | undefined;
  readonly declaredPolicy: string | undefined;
  readonly effectivePolicy: string;
  readonly ignoredRules: readonly string[];
}

export interface ScanError {
  readonly file: string;
  readonly line: number | undefined;
  readonly message: string;
}

export interface ScanResult {
  readonly containers: ScannedContainer[];
  readonly errors: ScanError[];
  readonly documents: number;
}

/**
 * The policy the API server writes when a container names none (SetDefaults_Container): `Always`
 * for `latest`, explicit or implied by a reference with neither tag nor digest; `IfNotPresent`
 * otherwise, digest-only references included.
 */
export function defaultPullPolicy(reference: ImageReference | undefined): PullPolicy {
  if (reference === undefined) return "IfNotPresent";
  return effectiveTag(reference) === DEFAULT_TAG ? "Always" : "IfNotPresent";
}

/** `Kind/namespace/name`, the way operators name a workload in kubectl. */
export function workloadName(container: Pick<ScannedContainer, "kind" | "namespace" | "name">): string {
  return `${container.kind}/${container.namespace ? `${container.namespace}/` : ""}${container.name ?? "<unnamed>"}`;
}

/** `name` or `name (initContainer)`. */
export function containerLabel(container: Pick<ScannedContainer, "container" | "containerType">): string {
  const name = container.container ?? "<unnamed>";
  return container.containerType === "container" ? name : `${name} (${container.containerType})`;
}

/** Finds every container image in manifests. Pure: the caller reads the files. */
export function scanManifests(sources: readonly ManifestSource[]): ScanResult {
  const containers: ScannedContainer[] = [];
  const errors: ScanError[] = [];
  let documents = 0;
  for (const source of sources) {
    const walked = walkManifest(source.text);
    documents += walked.documents;
    for (const problem of walked.problems) errors.push({ file: source.name, ...problem });
    for (const found of walked.containers) {
      if (typeof found.image !== "string" || found.image === "") {
        errors.push({
          file: source.name,
          line: found.line,
          message: `${workloadName(found)}: container ${found.container ?? "<unnamed>"} has no image`,
        });
        continue;
      }
      const parsed = tryParseReference(found.image);
      const declared =
        typeof found.pullPolicy === "string" && found.pullPolicy !== "" ? found.pullPolicy : undefined;
      const reference = parsed.ok ? parsed.reference : undefined;
      containers.push({
        file: source.name,
        line: found.line,
        kind: found.kind,
        namespace: found.namespace,
        name: found.name,
        container: found.container,
        containerType: found.containerType,
        image: found.image,
        reference,
        referenceError: parsed.ok ? undefined : parsed.error.reason,
        declaredPolicy: declared,
        effectivePolicy: declared ?? defaultPullPolicy(reference),
        ignoredRules: found.ignoredRules,
      });
    }
  }
  return { containers, errors, documents };
}
