import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  pushImage,
  startRegistry,
  tagImage,
  type PushedImage,
  type RegistryInstance,
} from "../sandbox/index.ts";
import { runMain } from "./run-prepull.ts";

let registry: RegistryInstance;
let dir: string;
let api: PushedImage;
let web: PushedImage;
let webNext: PushedImage;

const setText = (name: string, images: string[]): string =>
  `# ${name}: kept by lock\napiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: ${name}}\nspec:\n  images:\n${images.map((i) => `    - ${i}\n`).join("")}`;

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), "prepull-cli-lock-"));
  [api, web, webNext] = await Promise.all([
    pushImage(registry, { repository: "team/api", tag: "v1", seed: "api-1" }),
    pushImage(registry, { repository: "team/web", tag: "v2", seed: "web-2" }),
    pushImage(registry, { repository: "team/web", tag: "next", seed: "web-3" }),
  ]);
});

afterAll(async () => {
  await registry.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("prepull lock", () => {
  it("locks every set file of a directory, as --config reads it; --update accepts a moved tag", async () => {
    const sets = join(dir, "sets");
    await mkdir(sets);
    await writeFile(join(sets, "api.yaml"), setText("api", [api.reference]));
    await writeFile(join(sets, "web.yaml"), setText("web", [web.reference]));
    const creds = join(dir, "creds.json");
    await writeFile(creds, '{"auths": {}}');

    // --docker-config before the positional argument leaves it alone.
    const locked = await runMain(["lock", "--docker-config", creds, sets]);
    expect(locked.code, locked.stderr).toBe(0);
    expect(locked.stdout).toContain("2 entries written");
    expect(await readFile(join(sets, "api.yaml"), "utf8")).toContain(`digest: ${api.digest}`);
    expect(await readFile(join(sets, "web.yaml"), "utf8")).toContain(`digest: ${web.digest}`);
    expect(await readFile(join(sets, "web.yaml"), "utf8")).toMatch(/^# web: kept by lock\n/);

    expect((await runMain(["lock", "--check", sets])).code).toBe(0);

    // The tag is re-pushed: --check reports it and says how to accept it.
    await tagImage(registry, "team/web", webNext.digest, "v2");
    const drift = await runMain(["lock", "--check", sets]);
    expect(drift.code).toBe(1);
    expect(drift.stdout).toContain(web.reference);
    expect(drift.stdout).toContain(`prepull lock --update ${sets} ${web.reference}`);
    for (const line of drift.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(120);

    const update = await runMain(["lock", "--update", sets, web.reference]);
    expect(update.code, update.stderr).toBe(0);
    const webSet = await readFile(join(sets, "web.yaml"), "utf8");
    expect(webSet).toContain(`digest: ${webNext.digest}`);
    expect(webSet).not.toContain(web.digest);
    expect(await readFile(join(sets, "api.yaml"), "utf8")).toContain(`digest: ${api.digest}`);
    expect((await runMain(["lock", "--check", sets])).code).toBe(0);
  });

  it("--check fails on entries that were never locked unless --allow-unlocked", async () => {
    const file = join(dir, "half.yaml");
    await writeFile(
      file,
      setText("half", [api.reference, `{image: ${web.reference}, digest: ${webNext.digest}}`]),
    );
    const strict = await runMain(["lock", "--check", file]);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain(`${api.reference}: unlocked: `);
    const lenient = await runMain(["lock", "--check", "--allow-unlocked", file]);
    expect(lenient.code, lenient.stdout).toBe(0);
    expect(await readFile(file, "utf8")).not.toContain(api.digest);
  });

  it("refuses IMAGE arguments without --update, and names an image the set does not hold", async () => {
    const file = join(dir, "one.yaml");
    await writeFile(file, setText("one", [api.reference]));
    const without = await runMain(["lock", file, api.reference]);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/^prepull: usage: .*--update/);
    const absent = await runMain(["lock", "--update", file, `${registry.host}/team/other:1`]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toBe(
      `prepull: input: ${registry.host}/team/other:1: no entry of ${file} names this image\n`,
    );
  });
});
