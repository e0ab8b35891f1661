import { describe, expect, it } from "vitest";
import { imagesToWarm, lintImages, reachesSeverity, RULE_IDS, scanManifests, WarmedImages } from "./index.ts";
import { parseReference } from "../reference/index.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;
const OTHER = `sha256:${"b".repeat(64)}`;

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

/** `warmed`: ImageSet entries, written `image` or `image digest`. */
function findingsFor(image: string, policy?: string, warmed?: string[]) {
  const { images } = scanManifests([{ name: "pod.yaml", text: pod(image, policy) }]);
  const entries = warmed?.map((w) => {
    const [written = "", digest] = w.split(" ");
    const reference = parseReference(written);
    return { reference, digest: digest ?? reference.digest };
  });
  return lintImages(images, entries ? { imageSet: new WarmedImages(entries) } : {});
}

function rulesFor(image: string, policy?: string, warmed?: string[]): string[] {
  return findingsFor(image, policy, warmed).map((f) => f.rule);
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
      () => rulesFor(`nginx:1.27@${DIGEST}`, "IfNotPresent", [`nginx:1.27 ${OTHER}`]),
      () => rulesFor(`nginx:1.27@${DIGEST}`, "IfNotPresent", [`nginx:1.27 ${DIGEST}`]),
    ],
  ])("%s", (rule, fires, quiet) => {
    expect(fires()).toContain(rule);
    expect(quiet()).not.toContain(rule);
  });

  it("says what latest costs under the policy in force, not an Always that is not there", () => {
    const message = (policy?: string): string =>
      findingsFor("nginx:latest", policy).find((f) => f.rule === "latest-tag")?.message ?? "";
    expect(message()).toContain("pulled on every start (Always by default)");
    expect(message("Always")).toMatch(/pulled on every start$/);
    expect(message("IfNotPresent")).toContain("each node keeps whichever latest it pulled first");
    expect(message("Never")).toContain("each node runs whichever latest was put there");
    for (const policy of ["IfNotPresent", "Never"]) expect(message(policy)).not.toContain("Always");
  });

  it("notes name:tag@digest only when the ImageSet locks that tag elsewhere, never on what pin writes", () => {
    expect(rulesFor(`nginx:1.27@${DIGEST}`, "IfNotPresent")).toEqual([]);
    expect(rulesFor(`nginx:latest@${DIGEST}`, "IfNotPresent", [`nginx ${DIGEST}`])).toEqual([]);
    expect(
      findingsFor(`nginx:1.27@${DIGEST}`, "IfNotPresent", [`nginx:1.27 ${OTHER}`])[0]?.message,
    ).toContain(`locks that tag at ${OTHER}`);
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

describe("never-not-warmed: a warm node's runtime finds a pod's image by digest when it has one, else by tag", () => {
  it.each([
    [`nginx:1.27@${DIGEST}`, [`nginx@${DIGEST}`], true],
    [`nginx@${DIGEST}`, [`nginx:1.27@${DIGEST}`], true],
    [`nginx@${DIGEST}`, [`nginx:1.27 ${DIGEST}`], true],
    ["nginx:1.27", [`nginx:1.27 ${DIGEST}`], true],
    ["nginx", ["docker.io/library/nginx:latest"], true],
    ["nginx", [`nginx@${DIGEST}`], false],
    ["nginx:1.27", [`nginx@${DIGEST}`], false],
    [`nginx:1.27@${DIGEST}`, ["nginx:1.27"], false],
    [`nginx@${OTHER}`, [`nginx:1.27@${DIGEST}`], false],
    [`ghcr.io/library/nginx@${DIGEST}`, [`nginx@${DIGEST}`], false],
  ])("pod %s, set %j: warm is %s", (image, set, warm) => {
    expect(rulesFor(image, "Never", set).includes("never-not-warmed")).toBe(!warm);
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
    expect(scanManifests([{ name: "p.yaml", text: pod(image) }]).images[0]?.effectivePolicy).toBe(policy);
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
    lintImages(scanManifests([{ name: "d.yaml", text }]).images).map((f) => [f.ruleId, f.suppressed]);

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

  it("keeps suppressed findings from reaching a severity", () => {
    const findings = (annotations: string) =>
      lintImages(scanManifests([{ name: "d.yaml", text: deployment(annotations, "") }]).images);
    // busybox: two warnings, no error.
    expect(reachesSeverity(findings(""), "info")).toBe(true);
    expect(reachesSeverity(findings(""), "warning")).toBe(true);
    expect(reachesSeverity(findings(""), "error")).toBe(false);
    expect(reachesSeverity(findings('"prepull.dev/ignore": "PP002"'), "warning")).toBe(true);
    expect(reachesSeverity(findings('"prepull.dev/ignore": "PP002, PP003"'), "info")).toBe(false);
  });
});

describe("imagesToWarm", () => {
  it("lists each image that parses once, as written", () => {
    const { images } = scanManifests([
      { name: "a.yaml", text: pod("busybox:1") },
      { name: "b.yaml", text: pod("Not/Valid") },
      { name: "c.yaml", text: pod("busybox:1") },
      { name: "d.yaml", text: pod(`nginx@${DIGEST}`) },
    ]);
    expect(imagesToWarm(images)).toEqual(["busybox:1", `nginx@${DIGEST}`]);
  });
});
