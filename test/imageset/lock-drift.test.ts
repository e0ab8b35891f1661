import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPrepull } from "../cli/run-prepull.ts";
import { pushImage, startRegistry, type RegistryInstance } from "../sandbox/index.ts";

let registry: RegistryInstance;
let dir: string;

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), "prepull-lock-drift-"));
});

afterAll(async () => {
  await Promise.all([registry.stop(), rm(dir, { recursive: true, force: true })]);
});

describe("the drift workflow of prepull lock", () => {
  it("checks, locks, reports a moved tag and accepts it for the entries named", async () => {
    const apiV1 = await pushImage(registry, { repository: "team/api", tag: "v1", seed: "api one" });
    const webV1 = await pushImage(registry, { repository: "team/web", tag: "v1", seed: "web one" });
    const file = join(dir, "set.yaml");
    const original = [
      "# Platform images.",
      "apiVersion: prepull/v1",
      "kind: ImageSet",
      "metadata:",
      "  name: platform",
      "spec:",
      "  images:",
      `    - ${apiV1.reference} # the API`,
      "",
      `    - ${webV1.reference}`,
      "",
    ].join("\n");
    await writeFile(file, original);

    const unlocked = await runPrepull(["lock", "--check", file]);
    expect(unlocked.code).toBe(1);
    expect(unlocked.stdout).toContain(`${apiV1.reference}: unlocked: no digest`);
    expect(unlocked.stdout).toContain(`${webV1.reference}: unlocked: no digest`);
    expect((await runPrepull(["lock", "--check", "--allow-unlocked", file])).code).toBe(0);

    expect((await runPrepull(["lock", file])).code).toBe(0);
    const locked = await readFile(file, "utf8");
    expect(locked).toContain(`    - image: ${apiV1.reference}\n      digest: ${apiV1.digest} # the API\n`);
    expect((await runPrepull(["lock", "--check", file])).code).toBe(0);

    // Both tags move.
    const apiV2 = await pushImage(registry, { repository: "team/api", tag: "v1", seed: "api two" });
    const webV2 = await pushImage(registry, { repository: "team/web", tag: "v1", seed: "web two" });
    expect(apiV2.digest).not.toBe(apiV1.digest);

    const drift = await runPrepull(["lock", "--check", "--output", "json", file]);
    expect(drift.code).toBe(1);
    expect(JSON.parse(drift.stdout)).toMatchObject({
      drift: [
        { image: apiV1.reference, locked: apiV1.digest, current: apiV2.digest },
        { image: webV1.reference, locked: webV1.digest, current: webV2.digest },
      ],
      unlocked: [],
    });
    // Plain lock never changes a locked digest.
    expect((await runPrepull(["lock", file])).code).toBe(0);
    expect(await readFile(file, "utf8")).toBe(locked);

    const accepted = await runPrepull([
      "lock",
      "--update",
      "--output",
      "wide",
      file,
      `${registry.host}/team/api`,
    ]);
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toContain(`${apiV1.reference}  ${apiV2.digest}  ${apiV1.digest}`);
    expect(await readFile(file, "utf8")).toBe(locked.replace(apiV1.digest, apiV2.digest));
    const webOnly = await runPrepull(["lock", "--check", file]);
    expect(webOnly.code).toBe(1);
    expect(webOnly.stdout).toContain("prepull lock --update");
    expect(webOnly.stdout).not.toContain(apiV1.reference + " ");

    expect((await runPrepull(["lock", "--update", file])).code).toBe(0);
    expect(await readFile(file, "utf8")).toBe(
      locked.replace(apiV1.digest, apiV2.digest).replace(webV1.digest, webV2.digest),
    );
    expect((await runPrepull(["lock", "--check", file])).code).toBe(0);
  });

  it("refuses bad input with exit status 2, naming it", async () => {
    const file = join(dir, "small.yaml");
    await writeFile(
      file,
      "apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: s}\nspec:\n  images: [nginx:1]\n",
    );
    const unknown = await runPrepull(["lock", "--update", file, "ghcr.io/none/such:1"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`ghcr.io/none/such:1: no entry of ${file} names this image`);
    const names = await runPrepull(["lock", file, "nginx:1"]);
    expect(names.code).toBe(2);
    expect(names.stderr).toContain("add --update");

    const big = join(dir, "big.yaml");
    await writeFile(big, Buffer.alloc(5 * 1024 * 1024, "#"));
    const tooBig = await runPrepull(["lock", big]);
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr).toContain(`${big}: 5242880 bytes is over the 4 MiB limit`);

    const fifo = join(dir, "pipe.yaml");
    execFileSync("mkfifo", [fifo]);
    const pipe = await runPrepull(["lock", "--check", fifo]);
    expect(pipe.code).toBe(2);
    expect(pipe.stderr).toContain(`${fifo}: not a regular file`);
  });
});
