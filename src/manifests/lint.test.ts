import { describe, expect, it } from "vitest";
import { lintContainers, RULE_IDS, scanManifests, warmKey } from "./index.ts";
import { parseReference } from "../reference/index.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;

function pod(image: string, policy?: string): string {
  return [
    "apiVersion: v1",
    "kind: Pod",
    "metadata: {name: p}",
    "spec:",
    "  containers:",
    "    - name: c",
    `      image: ${image}`,
    ...(policy ? [`      imagePullPolicy: ${policy}`] : []),
    "",
  ].join("\n");
}

function rulesFor(image: string, policy?: string, warmed?: string[]): string[] {
  const { containers } = scanManifests([{ name: "pod.yaml", text: pod(image, policy) }]);
  const findings = lintContainers(
    containers,
    warmed ? { warmed: new Set(warmed.map((w) => warmKey(parseReference(w)))) } : {},
  );
  return findings.map((f) => f.rule);
}

describe("pull-policy rules: each fires, and each stays quiet when it should", () => {
  it.each([
    [
      "invalid-reference",
      () => rulesFor("Not/Valid:1", "IfNotPresent"),
      () => rulesFor("nginx:1.27", "IfNotPresent"),
    ],
    [
      "no-explicit-pull-policy",
      () => rulesFor(`nginx@${DIGEST}`),
      () => rulesFor(`nginx@${DIGEST}`, "IfNotPresent"),
    ],
    ["latest-tag", () => rulesFor("nginx", "Always"), () => rulesFor(`nginx@${DIGEST}`, "Always")],
    [
      "ifnotpresent-mutable-tag",
      () => rulesFor("nginx:1.27", "IfNotPresent"),
      () => rulesFor(`nginx:1.27@${DIGEST}`, "IfNotPresent"),
    ],
    [
      "never-not-warmed",
      () => rulesFor("nginx:1.27", "Never", ["redis:7"]),
      () => rulesFor("nginx:1.27", "Never", ["docker.io/library/nginx:1.27"]),
    ],
    [
      "always-with-digest",
      () => rulesFor(`nginx@${DIGEST}`, "Always"),
      () => rulesFor(`nginx@${DIGEST}`, "IfNotPresent"),
    ],
    [
      "tag-and-digest",
      () => rulesFor(`nginx:1.27@${DIGEST}`, "IfNotPresent"),
      () => rulesFor(`nginx@${DIGEST}`, "IfNotPresent"),
    ],
  ])("%s", (rule, fires, quiet) => {
    expect(fires()).toContain(rule);
    expect(quiet()).not.toContain(rule);
  });

  it("has a stable id for every rule", () => {
    expect(RULE_IDS.map((r) => `${r.id} ${r.name}`)).toEqual([
      "PP001 invalid-reference",
      "PP002 no-explicit-pull-policy",
      "PP003 latest-tag",
      "PP004 ifnotpresent-mutable-tag",
      "PP005 never-not-warmed",
      "PP006 always-with-digest",
      "PP007 tag-and-digest",
    ]);
  });
});

describe("kubelet defaulting", () => {
  it.each([
    ["nginx", "Always"],
    ["nginx:latest", "Always"],
    ["nginx:1.27", "IfNotPresent"],
    [`nginx@${DIGEST}`, "IfNotPresent"],
    [`nginx:latest@${DIGEST}`, "Always"],
  ])("%s defaults to %s", (image, policy) => {
    expect(scanManifests([{ name: "p.yaml", text: pod(image) }]).containers[0]?.effectivePolicy).toBe(policy);
  });
});

describe("the prepull.dev/ignore annotation", () => {
  const deployment = (annotations: string, templateAnnotations: string): string =>
    [
      "apiVersion: apps/v1",
      "kind: Deployment",
      `metadata: {name: d, annotations: {${annotations}}}`,
      "spec:",
      "  template:",
      `    metadata: {annotations: {${templateAnnotations}}}`,
      "    spec:",
      "      containers:",
      "        - {name: c, image: busybox}",
      "",
    ].join("\n");
  const lint = (text: string) =>
    lintContainers(scanManifests([{ name: "d.yaml", text }]).containers).map((f) => [f.ruleId, f.suppressed]);

  it("suppresses the rules it names, by id or name, on the object or its pod template, and no others", () => {
    expect(lint(deployment("", ""))).toEqual([
      ["PP002", false],
      ["PP003", false],
    ]);
    expect(lint(deployment('"prepull.dev/ignore": "PP002"', ""))).toEqual([
      ["PP002", true],
      ["PP003", false],
    ]);
    expect(lint(deployment("", '"prepull.dev/ignore": "latest-tag, PP002"'))).toEqual([
      ["PP002", true],
      ["PP003", true],
    ]);
    expect(lint(deployment('"other/annotation": "PP002"', ""))).toEqual([
      ["PP002", false],
      ["PP003", false],
    ]);
  });
});
