import {
  DEFAULT_TAG,
  effectiveTag,
  formatReference,
  withDefaultTag,
  type ImageReference,
} from "../reference/index.ts";
import { containerLabel, workloadName, type ScannedContainer } from "./scan.ts";

export type Severity = "info" | "warning" | "error";

export interface Finding {
  readonly ruleId: string;
  readonly rule: string;
  readonly severity: Severity;
  readonly message: string;
  readonly fix: string;
  readonly file: string;
  readonly line: number | undefined;
  readonly image: string;
  readonly workload: string;
  readonly container: string;
  /** Exempted by a `prepull.dev/ignore` annotation: reported, never counted. */
  readonly suppressed: boolean;
}

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, error: 2 };

/** The name a node's runtime resolves for a pod's image: what an ImageSet must hold for it. */
export function warmKey(reference: ImageReference): string {
  return formatReference(withDefaultTag(reference));
}

interface Rule {
  readonly id: string;
  readonly name: string;
  readonly severity: Severity;
  check(
    container: ScannedContainer,
    context: { warmed: ReadonlySet<string> | undefined },
  ): { message: string; fix: string } | undefined;
}

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
            message: `no imagePullPolicy: the API server will set ${c.effectivePolicy}, and will not change it if the image changes later`,
            fix: `set imagePullPolicy: ${c.effectivePolicy} (or the policy you mean) explicitly`,
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
            message: `"${c.image}" uses ${c.reference.tag === undefined ? "no tag (so latest)" : "the latest tag"}: a moving target, pulled on every start (implicit Always)`,
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
    check: (c, { warmed }) =>
      c.effectivePolicy !== "Never" ||
      warmed === undefined ||
      c.reference === undefined ||
      warmed.has(warmKey(c.reference))
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
            fix: "use imagePullPolicy: IfNotPresent",
          },
  },
  {
    id: "PP007",
    name: "tag-and-digest",
    severity: "info",
    check: (c) =>
      c.reference?.tag === undefined || c.reference.digest === undefined
        ? undefined
        : {
            message: `"${c.image}" names a tag and a digest: the runtime pulls the digest and ignores the tag`,
            fix: "nothing to do if the tag is documentation; prepull warms both names",
          },
  },
];

export const RULE_IDS: ReadonlyArray<{ id: string; name: string; severity: Severity }> = RULES.map(
  ({ id, name, severity }) => ({ id, name, severity }),
);

/** Pull-policy findings for every container; `warmed` holds the warm keys of a given ImageSet. */
export function lintContainers(
  containers: readonly ScannedContainer[],
  options: { warmed?: ReadonlySet<string> } = {},
): Finding[] {
  const findings: Finding[] = [];
  for (const container of containers) {
    for (const rule of RULES) {
      const hit = rule.check(container, { warmed: options.warmed });
      if (hit === undefined) continue;
      findings.push({
        ruleId: rule.id,
        rule: rule.name,
        severity: rule.severity,
        ...hit,
        file: container.file,
        line: container.line,
        image: container.image,
        workload: workloadName(container),
        container: containerLabel(container),
        suppressed: container.ignoredRules.includes(rule.id) || container.ignoredRules.includes(rule.name),
      });
    }
  }
  return findings;
}
