import { DEFAULT_TAG, effectiveTag } from "../reference/index.ts";
import { containerLabel, subjectOf, workloadName, type ScannedImage } from "./scan.ts";
import type { WarmedImages } from "./warmed.ts";

export type Severity = "info" | "warning" | "error";

export interface Finding {
  readonly ruleId: string;
  readonly rule: string;
  readonly severity: Severity;
  readonly message: string;
  readonly fix: string;
  readonly file: string;
  readonly line: number | undefined;
  /** What the node is asked for. */
  readonly image: string;
  readonly imageAsWritten: string;
  readonly workload: string;
  readonly container: string;
  /** `container web`, `image volume weights`. */
  readonly subject: string;
  /** Exempted by a `prepull.dev/ignore` annotation: reported, never counted. */
  readonly suppressed: boolean;
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, error: 2 };

/** Whether a finding that is not suppressed is at least as severe as `severity`: `plan --fail-on`. */
export function reachesSeverity(findings: readonly Finding[], severity: Severity): boolean {
  return findings.some((f) => !f.suppressed && SEVERITY_RANK[f.severity] >= SEVERITY_RANK[severity]);
}

interface Rule {
  readonly id: string;
  readonly name: string;
  readonly severity: Severity;
  check(
    image: ScannedImage,
    context: { imageSet: WarmedImages | undefined },
  ): { message: string; fix: string } | undefined;
}

/** The field that holds a pull policy: a container's, or an image volume's. */
function policyField(image: ScannedImage): string {
  return image.containerType === "imageVolume" ? "image.pullPolicy" : "imagePullPolicy";
}

/** What a `latest` image means under each pull policy. */
const LATEST_CONSEQUENCE: Readonly<Record<string, string>> = {
  Always: "pulled on every start",
  IfNotPresent: "each node keeps whichever latest it pulled first",
  Never: "each node runs whichever latest was put there",
};

const RULES: readonly Rule[] = [
  {
    id: "PP001",
    name: "invalid-reference",
    severity: "error",
    check: (c) =>
      c.referenceError === undefined
        ? undefined
        : {
            message: `image "${c.image}" is not a valid reference: ${c.referenceError}`,
            fix: "correct the image reference",
          },
  },
  {
    id: "PP002",
    name: "no-explicit-pull-policy",
    severity: "warning",
    check: (c) =>
      c.declaredPolicy !== undefined || c.reference === undefined
        ? undefined
        : {
            message: `no ${policyField(c)}: the API server will set ${c.effectivePolicy}, and will not change it if the image changes later`,
            fix: `set ${policyField(c)}: ${c.effectivePolicy} (or the policy you mean) explicitly`,
          },
  },
  {
    id: "PP003",
    name: "latest-tag",
    severity: "warning",
    check: (c) =>
      c.reference === undefined ||
      c.reference.digest !== undefined ||
      effectiveTag(c.reference) !== DEFAULT_TAG
        ? undefined
        : {
            message: `"${c.image}" uses ${c.reference.tag === undefined ? "no tag (so latest)" : "the latest tag"}: a moving target, ${LATEST_CONSEQUENCE[c.effectivePolicy] ?? `with ${c.effectivePolicy}`}${c.declaredPolicy === undefined ? ` (${c.effectivePolicy} by default)` : ""}`,
            fix: "use a version tag and pin it with a digest (prepull pin)",
          },
  },
  {
    id: "PP004",
    name: "ifnotpresent-mutable-tag",
    severity: "warning",
    check: (c) =>
      c.effectivePolicy !== "IfNotPresent" ||
      c.reference?.tag === undefined ||
      c.reference.digest !== undefined
        ? undefined
        : {
            message: `IfNotPresent with the tag "${c.reference.tag}" and no digest: nodes keep whatever they cached first, so a re-pushed tag never reaches them`,
            fix: "pin the digest (name:tag@digest, prepull pin) so every node runs the same image",
          },
  },
  {
    id: "PP005",
    name: "never-not-warmed",
    severity: "error",
    check: (c, { imageSet }) =>
      c.effectivePolicy !== "Never" ||
      imageSet === undefined ||
      c.reference === undefined ||
      imageSet.has(c.reference)
        ? undefined
        : {
            message: `Never with "${c.image}", which the ImageSet does not warm: the pod fails with ErrImageNeverPull on every node`,
            fix: `add "${c.image}" to the ImageSet`,
          },
  },
  {
    id: "PP006",
    name: "always-with-digest",
    severity: "warning",
    check: (c) =>
      c.effectivePolicy !== "Always" || c.reference?.digest === undefined
        ? undefined
        : {
            message:
              "Always with a digest: the image cannot change, but every start still asks the registry and fails offline",
            fix: `use ${policyField(c)}: IfNotPresent`,
          },
  },
  {
    id: "PP007",
    name: "tag-and-digest",
    severity: "info",
    // `name:tag@digest` is what pin writes on purpose; it is worth a note only when the tag no
    // longer documents the digest, which only a locked ImageSet can tell.
    check: (c, { imageSet }) => {
      const locked = c.reference?.digest === undefined ? undefined : imageSet?.digestOfTag(c.reference);
      return c.reference?.tag === undefined || locked === undefined || locked === c.reference.digest
        ? undefined
        : {
            message: `"${c.image}" says tag ${c.reference.tag} but the ImageSet locks that tag at ${locked}: the runtime pulls the digest and ignores the tag`,
            fix: "re-pin from the locked set (prepull pin --from) or correct the tag",
          };
    },
  },
];

export const RULE_IDS: ReadonlyArray<{ id: string; name: string; severity: Severity }> = RULES.map(
  ({ id, name, severity }) => ({ id, name, severity }),
);

/** Pull-policy findings for every image a pod pulls, checked against an ImageSet when one is given. */
export function lintImages(
  images: readonly ScannedImage[],
  options: { imageSet?: WarmedImages } = {},
): Finding[] {
  const findings: Finding[] = [];
  for (const container of images) {
    for (const rule of RULES) {
      const hit = rule.check(container, { imageSet: options.imageSet });
      if (hit === undefined) continue;
      findings.push({
        ruleId: rule.id,
        rule: rule.name,
        severity: rule.severity,
        ...hit,
        file: container.file,
        line: container.line,
        image: container.nodeImage,
        imageAsWritten: container.image,
        workload: workloadName(container),
        container: containerLabel(container),
        subject: subjectOf(container),
        suppressed: container.ignoredRules.includes(rule.id) || container.ignoredRules.includes(rule.name),
      });
    }
  }
  return findings;
}
