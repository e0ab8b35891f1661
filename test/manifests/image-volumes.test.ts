import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { changedLines, CORPUS, GOLDEN, LOCKED, prepull, tempDir } from "./cli.ts";

const VOLUMES = join(CORPUS, "image-volumes.yaml");

interface PlanJson {
  containers: Array<{ container: string; containerType: string; image: string; effectivePolicy: string }>;
  findings: Array<{ ruleId: string; subject: string; image: string }>;
}

describe("image volumes (KEP-4639): plan and pin see everything a pod pulls", () => {
  it("lists each image volume beside the containers, with kubelet's default pull policy and its findings", async () => {
    const run = await prepull(["plan", VOLUMES, "-o", "json"]);
    const { containers, findings } = JSON.parse(run.stdout) as PlanJson;
    expect(containers.map((c) => [c.container, c.containerType, c.effectivePolicy])).toEqual([
      ["server", "container", "IfNotPresent"],
      ["weights", "imageVolume", "Never"],
      ["tokenizer", "imageVolume", "Always"],
      ["adapters", "imageVolume", "IfNotPresent"],
    ]);
    expect(findings.map((f) => `${f.ruleId} ${f.subject}`)).toEqual([
      "PP004 container server",
      "PP002 image volume tokenizer",
      "PP003 image volume tokenizer",
      "PP002 image volume adapters",
    ]);
    const text = await prepull(["plan", VOLUMES]);
    expect(text.stdout).toMatch(
      /Deployment\/ml\/llm\s+weights \(volume\)\s+ghcr\.io\/acme\/llama-3-8b:v1\s+Never\n/,
    );
    expect(text.stdout).toContain("1 container, 3 image volumes, 4 images;");
  });

  it("checks Never image volumes against the ImageSet", async () => {
    const dir = await tempDir();
    const set = join(dir, "set.yaml");
    await writeFile(
      set,
      "apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: s}\nspec:\n  images: [ghcr.io/acme/llm-server:0.9.1]\n",
    );
    const cold = await prepull(["plan", VOLUMES, "--imageset", set]);
    expect(cold.code).toBe(1);
    expect(cold.stdout).toContain(
      'error PP005 never-not-warmed: Deployment/ml/llm image volume weights: Never with "ghcr.io/acme/llama-3-8b:v1"',
    );
    const warm = await prepull(["plan", VOLUMES, "--imageset", LOCKED]);
    expect(warm.code).toBe(0);
    expect(warm.stdout).not.toContain("PP005");
  });

  it("pins volume references like image fields: only the values change, comments and quotes stay, and it is idempotent", async () => {
    const source = await readFile(VOLUMES, "utf8");
    const run = await prepull(["pin", "--from", LOCKED, VOLUMES]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(await readFile(join(GOLDEN, "pin-image-volumes.yaml"), "utf8"));
    const changed = changedLines(source, run.stdout);
    expect(changed.map(([before]) => before.trim())).toEqual([
      "image: ghcr.io/acme/llm-server:0.9.1",
      "reference: ghcr.io/acme/llama-3-8b:v1",
      'reference: "ghcr.io/acme/tokenizer:latest" # defaults to Always',
    ]);
    for (const [before, after] of changed) expect(after.replace(/@sha256:[a-f0-9]{64}/, "")).toBe(before);

    const file = join(await tempDir(), "llm.yaml");
    await writeFile(file, run.stdout);
    const again = await prepull(["pin", "--from", LOCKED, "--in-place", file]);
    expect(await readFile(file, "utf8")).toBe(run.stdout);
    expect(again.stderr).toContain("0 images pinned");
  });
});

describe("pin, then plan: what pin writes raises nothing", () => {
  it("reports a clean plan for a pinned manifest whose policies are explicit", async () => {
    const dir = await tempDir();
    const file = join(dir, "app.yaml");
    await writeFile(
      file,
      [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: shop}",
        "spec:",
        "  template:",
        "    spec:",
        "      containers:",
        "        - {name: shop, image: ghcr.io/acme/shop:1.2.0, imagePullPolicy: IfNotPresent}",
        "      volumes:",
        "        - name: weights",
        "          image: {reference: ghcr.io/acme/llama-3-8b:v1, pullPolicy: Never}",
        "",
      ].join("\n"),
    );
    expect((await prepull(["plan", file, "--fail-on", "info"])).code).toBe(1);
    expect((await prepull(["pin", "--from", LOCKED, "--in-place", file])).code).toBe(0);
    const plan = await prepull(["plan", file, "--imageset", LOCKED, "--fail-on", "info"]);
    expect(plan.stdout).toContain("0 errors, 0 warnings, 0 notes");
    expect(plan.code).toBe(0);
  });
});
