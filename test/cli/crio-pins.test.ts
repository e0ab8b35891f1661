import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPrepull } from "./run-prepull.ts";

const D = `sha256:${"a".repeat(64)}`;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prepull-crio-pins-"));
  await writeFile(
    join(dir, "web.yaml"),
    `apiVersion: prepull/v1
kind: ImageSet
metadata: {name: web-tier}
spec:
  images:
    - ghcr.io/acme/api:v1.4.2
    - image: ghcr.io/acme/web:2.0
      digest: ${D}
    - redis@${D}
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("prepull crio-pins", () => {
  it("prints a CRI-O drop-in pinning the names pods use", async () => {
    const run = await runPrepull(["crio-pins", join(dir, "web.yaml")]);
    expect(run.code).toBe(0);
    expect(parse(run.stdout)).toEqual({
      crio: {
        image: {
          pinned_images: [
            "ghcr.io/acme/api:v1.4.2",
            "ghcr.io/acme/web:2.0",
            `ghcr.io/acme/web@${D}`,
            `docker.io/library/redis@${D}`,
          ],
        },
      },
    });
  });

  it("exits 2 naming the file when an ImageSet cannot be read", async () => {
    const run = await runPrepull(["crio-pins", join(dir, "missing.yaml")]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("missing.yaml");
    expect(run.stdout).toBe("");
  });
});
