import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pushImage, startRegistry } from "../sandbox/index.ts";
import { changedLines, CORPUS, GOLDEN, LOCKED, prepull, tempDir } from "./cli.ts";

describe("prepull plan over a corpus of real-world manifests", () => {
  it.each([
    [["plan", CORPUS], "plan.txt"],
    [["plan", CORPUS, "-o", "json"], "plan.json"],
    [["plan", CORPUS, "-o", "imageset", "--name", "corpus"], "plan-imageset.yaml"],
  ])("%j matches %s", async (args, golden) => {
    const run = await prepull(args);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(await readFile(join(GOLDEN, golden), "utf8"));
  });

  it("reads stdin", async () => {
    const text = await readFile(join(CORPUS, "rollout.yaml"), "utf8");
    const run = await prepull(["plan", "-", "-o", "json"], text);
    expect((JSON.parse(run.stdout) as { containers: unknown[] }).containers).toEqual([
      expect.objectContaining({ file: "-", kind: "Rollout", image: "ghcr.io/acme/checkout:3.1.4", line: 16 }),
    ]);
  });

  it("gates CI with --fail-on and flags Never images the ImageSet does not warm", async () => {
    expect((await prepull(["plan", CORPUS, "--fail-on", "warning"])).code).toBe(1);
    const never = await prepull(["plan", CORPUS, "--imageset", LOCKED, "-o", "json"]);
    const { findings } = JSON.parse(never.stdout) as { findings: Array<{ rule: string; image: string }> };
    expect(findings.filter((f) => f.rule === "never-not-warmed").map((f) => f.image)).toEqual([]);
    const partial = join(await tempDir(), "partial.yaml");
    await writeFile(
      partial,
      "apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: p}\nspec:\n  images: [nginx:1.27]\n",
    );
    const run = await prepull(["plan", CORPUS, "--imageset", partial]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("PP005 never-not-warmed: Job/seed");
    expect(run.stdout).not.toContain("never-not-warmed: ReplicaSet/legacy");
  });

  it("names file and line for malformed YAML, documents without a kind and invalid references, without a stack trace", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "broken.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: x\nspec: {}\n");
    await writeFile(join(dir, "nokind.yaml"), "---\napiVersion: v1\nmetadata: {name: x}\n");
    await writeFile(
      join(dir, "notemplate.yaml"),
      "kind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n",
    );
    await writeFile(
      join(dir, "badref.yaml"),
      "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n    - name: c\n      image: Bad/Ref:1\n",
    );
    const run = await prepull(["plan", dir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/broken\.yaml:\d+: not valid YAML/);
    expect(run.stderr).toContain("nokind.yaml:2: document has no kind");
    expect(run.stderr).toContain("notemplate.yaml:4: Deployment d has no pod spec at spec.template.spec");
    expect(run.stderr).not.toContain("ConfigMap");
    expect(run.stdout).toContain("badref.yaml:7: error PP001 invalid-reference");
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/\n\s+at /);
    const missing = await prepull(["plan", join(dir, "nope.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.yaml: no such file or directory");
  });
});

describe("prepull pin", () => {
  it("changes only image values, keeps quotes and comments, and is idempotent", async () => {
    const source = await readFile(join(CORPUS, "helm-chart.yaml"), "utf8");
    const run = await prepull(["pin", "--from", LOCKED, join(CORPUS, "helm-chart.yaml")]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(await readFile(join(GOLDEN, "pin-helm-chart.yaml"), "utf8"));
    for (const [before, after] of changedLines(source, run.stdout)) {
      expect(after.replace(/@sha256:[a-f0-9]{64}/, "")).toBe(before);
    }
    expect(run.stderr).toContain("3 images pinned");

    const dir = await tempDir();
    const file = join(dir, "chart.yaml");
    await writeFile(file, run.stdout);
    const again = await prepull(["pin", "--from", LOCKED, "--in-place", file]);
    expect(again.code).toBe(0);
    expect(await readFile(file, "utf8")).toBe(run.stdout);
    expect(again.stderr).toContain("0 images pinned");
  });

  it("pins from a set entry that carries its digest in the reference, by the tag the runtime resolves", async () => {
    const dir = await tempDir();
    const digest = `sha256:${"e".repeat(64)}`;
    await writeFile(
      join(dir, "set.yaml"),
      `apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: s}\nspec:\n  images: ["docker.io/library/nginx:1.27@${digest}"]\n`,
    );
    const pod =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx:1.27}]\n";
    const run = await prepull(["pin", "--from", join(dir, "set.yaml"), "-"], pod);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(pod.replace("nginx:1.27", `nginx:1.27@${digest}`));
  });

  it("pins aliases through their anchor and every directory file in place", async () => {
    const dir = await tempDir();
    await cp(CORPUS, dir, { recursive: true });
    const run = await prepull(["pin", "--from", LOCKED, "--in-place", dir]);
    expect(run.code).toBe(0);
    const misc = await readFile(join(dir, "misc.yaml"), "utf8");
    expect(misc).toContain(`image: &web-image nginx:1.27@sha256:${"9".repeat(64)}`);
    expect(misc).toContain("image: *web-image");
    expect(misc).toContain(`image: busybox:latest@sha256:${"8".repeat(64)}`);
    const plan = await prepull(["plan", dir, "-o", "json"]);
    const images = (JSON.parse(plan.stdout) as { containers: Array<{ image: string }> }).containers.map(
      (c) => c.image,
    );
    expect(images.every((image) => image.includes("@sha256:"))).toBe(true);
  });

  it("resolves tags at a real registry, and pins offline from the locked set once it is stopped", async () => {
    const registry = await startRegistry();
    const image = await pushImage(registry, { repository: "team/web", tag: "2.0" });
    const dir = await tempDir();
    const manifest = join(dir, "deploy.yaml");
    const text = [
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata:",
      "  name: web # the front end",
      "spec:",
      "  template:",
      "    spec:",
      "      containers:",
      "        - name: web",
      `          image: ${image.reference} # pinned by CI`,
      "          imagePullPolicy: IfNotPresent",
      "",
    ].join("\n");
    await writeFile(manifest, text);
    const online = await prepull(["pin", manifest]);
    expect(online.code).toBe(0);
    expect(changedLines(text, online.stdout)).toEqual([
      [
        `          image: ${image.reference} # pinned by CI`,
        `          image: ${image.reference}@${image.digest} # pinned by CI`,
      ],
    ]);

    const setFile = join(dir, "set.yaml");
    await writeFile(
      setFile,
      `apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: web}\nspec:\n  images:\n    - ${image.reference}\n`,
    );
    const lockedFile = join(dir, "locked.yaml");
    expect((await prepull(["lock", setFile, "-o", lockedFile])).code).toBe(0);
    expect(await readFile(setFile, "utf8")).not.toContain("digest:");
    expect(await readFile(lockedFile, "utf8")).toContain(`digest: ${image.digest}`);
    const misuse = await prepull(["lock", setFile, "-o", "json"]);
    expect(misuse.code).toBe(2);
    expect(misuse.stderr).toContain("use --output json");
    await registry.stop();

    const offline = await prepull(["pin", "--from", lockedFile, manifest]);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toBe(online.stdout);
    const unreachable = await prepull(["pin", manifest]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("network");
  });
});

describe("prepull plan --imageset: the digest decides whether a Never image is warm", () => {
  const D = `sha256:${"c".repeat(64)}`;
  const E = `sha256:${"d".repeat(64)}`;
  const podWith = (image: string): string =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: c, image: "${image}", imagePullPolicy: Never}\n`;
  const setWith = (image: string): string =>
    `apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: s}\nspec:\n  images: ["${image}"]\n`;

  it.each([
    [`nginx:1.27@${D}`, `nginx@${D}`, false],
    [`nginx@${D}`, `nginx:1.27@${D}`, false],
    [`docker.io/library/nginx:1.27@${D}`, `nginx:1.28@${D}`, false],
    [`nginx@${E}`, `nginx:1.27@${D}`, true],
    [`nginx:1.27@${E}`, `nginx:1.27@${D}`, true],
  ])("pod %s, set %s: not warmed is %s", async (podImage, setImage, notWarmed) => {
    const dir = await tempDir();
    await writeFile(join(dir, "pod.yaml"), podWith(podImage));
    await writeFile(join(dir, "set.yaml"), setWith(setImage));
    const run = await prepull([
      "plan",
      join(dir, "pod.yaml"),
      "--imageset",
      join(dir, "set.yaml"),
      "-o",
      "json",
    ]);
    const { findings } = JSON.parse(run.stdout) as { findings: Array<{ rule: string }> };
    expect(findings.some((f) => f.rule === "never-not-warmed")).toBe(notWarmed);
    expect(run.code).toBe(notWarmed ? 1 : 0);
  });
});
