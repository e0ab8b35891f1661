import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, prepull, tempDir } from "./cli.ts";

describe("plan shows what the node is asked for", () => {
  it("prints the normalised name in text and JSON, and keeps the manifest's own string in JSON", async () => {
    const pod =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox}]\n";
    const text = await prepull(["plan", "-"], pod);
    expect(text.stdout).toMatch(/Pod\/p\s+c\s+docker\.io\/library\/busybox:latest\s+Always \(default\)\n/);
    const json = await prepull(["plan", "-", "-o", "json"], pod);
    const { containers, findings } = JSON.parse(json.stdout) as {
      containers: Array<{ image: string; imageAsWritten: string }>;
      findings: Array<{ image: string; imageAsWritten: string }>;
    };
    expect(containers).toEqual([
      expect.objectContaining({ image: "docker.io/library/busybox:latest", imageAsWritten: "busybox" }),
    ]);
    expect(findings[0]).toEqual(
      expect.objectContaining({ image: "docker.io/library/busybox:latest", imageAsWritten: "busybox" }),
    );
  });
});

describe("plan tables fit 120 columns; -o wide prints every value in full", () => {
  it("shortens digests and elides what still does not fit, and -o wide does neither", async () => {
    const digest = `sha256:${"4".repeat(64)}`;
    const long = `registry.internal.example.com/platform/observability/collectors/otel-collector-contrib:0.115.1@${digest}`;
    const pod = [
      "apiVersion: apps/v1",
      "kind: DaemonSet",
      "metadata: {name: opentelemetry-collector-agent, namespace: observability-system}",
      "spec:",
      "  template:",
      "    spec:",
      `      initContainers: [{name: configuration-renderer, image: "${long}", imagePullPolicy: IfNotPresent}]`,
      "",
    ].join("\n");
    const narrow = await prepull(["plan", "-"], pod);
    const table = narrow.stdout.split("\n\n")[0] ?? "";
    for (const line of table.split("\n")) expect(line.length).toBeLessThanOrEqual(120);
    expect(table).not.toContain(digest);
    expect(table).toContain("…");

    const wide = await prepull(["plan", "-", "-o", "wide"], pod);
    expect(wide.stdout).toContain(long);
    expect(wide.stdout).toContain("DaemonSet/observability-system/opentelemetry-collector-agent");

    const corpus = await prepull(["plan", CORPUS]);
    const rows = (corpus.stdout.split("\n\n")[0] ?? "").split("\n");
    for (const line of rows) expect(line.length).toBeLessThanOrEqual(120);
    expect(rows).toContainEqual(expect.stringMatching(/docker\.io\/library\/redis:7\.2@sha256:1{12}\s/));
  });
});

describe("an unrendered Helm chart gets the command that renders it, not reference errors", () => {
  it("refuses a chart directory, and a template file anywhere, naming it", async () => {
    const chart = join(await tempDir(), "shop");
    await mkdir(join(chart, "templates"), { recursive: true });
    await writeFile(join(chart, "Chart.yaml"), "apiVersion: v2\nname: shop\nversion: 1.2.0\n");
    const template = [
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata:",
      "  name: {{ .Release.Name }}",
      "spec:",
      "  template:",
      "    spec:",
      "      containers:",
      '        - {name: shop, image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"}',
      "",
    ].join("\n");
    await writeFile(join(chart, "templates", "deployment.yaml"), template);

    const dir = await prepull(["plan", chart]);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toContain(
      `${chart}: a Helm chart (Chart.yaml), not manifests: render it first (helm template`,
    );
    const pin = await prepull(["pin", "--from", "nothing.yaml", chart]);
    expect(pin.code).toBe(2);
    expect(pin.stderr).toContain("render it first (helm template");

    const file = await prepull(["plan", join(chart, "templates")]);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain(
      "deployment.yaml:4: holds Helm template directives ({{ }}): render the chart first (helm template",
    );
    expect(`${file.stdout}${file.stderr}`).not.toMatch(/PP001|not valid YAML/);
  });
});
