import {
  DEFAULT_TAG,
  effectiveTag,
  formatReference,
  tryParseReference,
  withDefaultTag,
  type ImageReference,
} from "../reference/index.ts";
import { helmTemplateLine } from "./helm.ts";
import { walkManifest } from "./stream.ts";
import type { ImageSource } from "./workloads.ts";

export type PullPolicy = "Always" | "IfNotPresent" | "Never";

export interface ManifestSource {
  /** File name, or `-` for stdin: used in every message. */
  readonly name: string;
  readonly text: string;
}

/** An image a pod pulls: a container's, or an image volume's (KEP-4639). */
export interface ScannedImage {
  readonly file: string;
  readonly line: number | undefined;
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  /** The container's name, or the volume's. */
  readonly container: string | undefined;
  readonly containerType: ImageSource;
  /** As the manifest writes it. */
  readonly image: string;
  /** What the node is asked for (`docker.io/library/busybox:latest`); as written when it does not parse. */
  readonly nodeImage: string;
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
  readonly images: ScannedImage[];
  readonly errors: ScanError[];
  readonly documents: number;
}

/**
 * The policy the API server writes when a container or image volume names none
 * (SetDefaults_Container, SetDefaults_Volume: the same rule for both): `Always`
 * for `latest`, explicit or implied by a reference with neither tag nor digest; `IfNotPresent`
 * otherwise, digest-only references included.
 */
function defaultPullPolicy(reference: ImageReference | undefined): PullPolicy {
  if (reference === undefined) return "IfNotPresent";
  return effectiveTag(reference) === DEFAULT_TAG ? "Always" : "IfNotPresent";
}

/** The name a node's runtime resolves for a pod's image: normalised, with kubelet's `:latest`. */
function nodeImageName(reference: ImageReference): string {
  return formatReference(withDefaultTag(reference));
}

/** `Kind/namespace/name`, the way operators name a workload in kubectl. */
export function workloadName(container: Pick<ScannedImage, "kind" | "namespace" | "name">): string {
  return `${container.kind}/${container.namespace ? `${container.namespace}/` : ""}${container.name ?? "<unnamed>"}`;
}

const SOURCE_LABELS: Readonly<Record<ImageSource, string>> = {
  container: "",
  initContainer: " (initContainer)",
  ephemeralContainer: " (ephemeralContainer)",
  imageVolume: " (image volume)",
};

/** `name`, `name (initContainer)`, `name (image volume)`. */
export function containerLabel(image: Pick<ScannedImage, "container" | "containerType">): string {
  return `${image.container ?? "<unnamed>"}${SOURCE_LABELS[image.containerType]}`;
}

/** What a message is about: `container web`, `container migrate (initContainer)`, `image volume weights`. */
export function subjectOf(image: Pick<ScannedImage, "container" | "containerType">): string {
  return image.containerType === "imageVolume"
    ? `image volume ${image.container ?? "<unnamed>"}`
    : `container ${containerLabel(image)}`;
}

/** Finds every image a pod pulls in manifests: containers of every kind and image volumes. Pure: the caller reads the files. */
export function scanManifests(sources: readonly ManifestSource[]): ScanResult {
  const images: ScannedImage[] = [];
  const errors: ScanError[] = [];
  let documents = 0;
  for (const source of sources) {
    const walked = walkManifest(source.text);
    documents += walked.documents;
    // An unrendered chart fails as YAML or as references; say what it is instead.
    const helmLine =
      walked.problems.length > 0 || walked.images.some((found) => String(found.image).includes("{{"))
        ? helmTemplateLine(source.text)
        : undefined;
    if (helmLine !== undefined) {
      errors.push({
        file: source.name,
        line: helmLine,
        message:
          "holds Helm template directives ({{ }}): render the chart first (helm template RELEASE CHART) and pass its output",
      });
      continue;
    }
    for (const problem of walked.problems) errors.push({ file: source.name, ...problem });
    for (const found of walked.images) {
      if (typeof found.image !== "string" || found.image === "") {
        errors.push({
          file: source.name,
          line: found.line,
          message: `${workloadName(found)}: ${subjectOf({ container: found.container, containerType: found.source })} has no ${found.source === "imageVolume" ? "image.reference" : "image"}`,
        });
        continue;
      }
      const parsed = tryParseReference(found.image);
      const declared =
        typeof found.pullPolicy === "string" && found.pullPolicy !== "" ? found.pullPolicy : undefined;
      const reference = parsed.ok ? parsed.reference : undefined;
      images.push({
        file: source.name,
        line: found.line,
        kind: found.kind,
        namespace: found.namespace,
        name: found.name,
        container: found.container,
        containerType: found.source,
        image: found.image,
        nodeImage: reference === undefined ? found.image : nodeImageName(reference),
        reference,
        referenceError: parsed.ok ? undefined : parsed.error.reason,
        declaredPolicy: declared,
        effectivePolicy: declared ?? defaultPullPolicy(reference),
        ignoredRules: found.ignoredRules,
      });
    }
  }
  return { images, errors, documents };
}
