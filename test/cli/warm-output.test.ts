import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriClient } from "../../src/cri/index.ts";
import type { ImageRuntime } from "../../src/warm/index.ts";
import {
  pushImage,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type RegistryInstance,
} from "../sandbox/index.ts";
import { runMain } from "./run-prepull.ts";

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let runtime: ImageRuntime;
let dir: string;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  runtime = createCriClient({ endpoint: containerd.endpoint });
  dir = await mkdtemp(join(tmpdir(), "prepull-cli-output-"));
});

afterAll(async () => {
  runtime.close();
  await Promise.all([containerd.stop(), registry.stop(), rm(dir, { recursive: true, force: true })]);
});

describe("what warm and status print for people", () => {
  it("warm shows progress on stderr when not on a terminal, and a table that fits 120 columns", async () => {
    const long = await pushImage(registry, {
      repository: "platform/observability/collectors/a-rather-long-component-name/with-a-suffix",
      tag: "v1.2.3-build.20261201",
    });
    const run = await runMain(["warm", "-r", containerd.endpoint, long.reference]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      new RegExp(`^\\[1/1\\] pulled +${long.reference.replace(/[.]/g, "\\.")} \\(\\d+\\.\\d+s\\)\n$`),
    );
    for (const line of run.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(120);
    expect(run.stdout).not.toContain(long.digest);

    const wide = await runMain(["warm", "-r", containerd.endpoint, "-o", "wide", long.reference]);
    expect(wide.code).toBe(0);
    expect(wide.stdout).toContain(long.reference);
    expect(wide.stdout).toContain(long.digest);
  });

  it("a failed pull is reported once per image, with what matters of containerd's message", async () => {
    const missing = `${registry.host}/team/absent:nope`;
    const run = await runMain(["warm", "-r", containerd.endpoint, missing]);
    expect(run.code).toBe(1);
    const detail = run.stdout.split("\n").find((line) => line.startsWith(`${missing}: `));
    expect(detail).toMatch(/^\S+: not_found: /);
    expect(detail?.split(missing)).toHaveLength(2);
    expect(detail).not.toContain("failed to pull and unpack");
  });

  it("status says drifted, as the agent, warm and wait do, when the tag is not at the intended digest", async () => {
    const v1 = await pushImage(registry, { repository: "team/drift", tag: "v1", seed: "one" });
    const other = await pushImage(registry, { repository: "team/drift", tag: "v2", seed: "two" });
    await runtime.pullImage(v1.reference);
    await runtime.pullImage(`${registry.host}/team/drift@${other.digest}`);
    const file = join(dir, "drift.yaml");
    await writeFile(
      file,
      `apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: d}\nspec:\n  images:\n    - {image: ${v1.reference}, digest: ${other.digest}}\n`,
    );
    const text = await runMain(["status", "-r", containerd.endpoint, "--config", file]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`${v1.reference.replace(/[.]/g, "\\.")} +drifted `));
    const json = await runMain(["status", "-r", containerd.endpoint, "--config", file, "-o", "json"]);
    expect((JSON.parse(json.stdout) as { entries: Array<{ state: string }> }).entries[0]?.state).toBe(
      "drifted",
    );
    // The readiness gate would stay closed on this node, for that entry.
    expect(text.stdout).toContain(
      `readiness gate: would stay closed (ImagesFailing: 0/1 gated images warm; ${v1.reference} drifted)`,
    );
    expect((JSON.parse(json.stdout) as { gate: { open: boolean } }).gate.open).toBe(false);
  });
});
