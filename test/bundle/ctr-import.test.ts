import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMain } from "../cli/run-prepull.ts";
import {
  pushImage,
  pushIndex,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type RegistryInstance,
} from "../sandbox/index.ts";
import { writeSet } from "./layout-files.ts";

// The runtime's own reader of bundles: `ctr images import` of an --archive, on each containerd
// of the matrix (npm run test:runtimes).
let containerd: ContainerdInstance;
let registry: RegistryInstance;
let dir: string;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  dir = await mkdtemp(join(tmpdir(), "prepull-bundle-ctr-"));
});

afterAll(async () => {
  await Promise.all([containerd.stop(), registry.stop(), rm(dir, { recursive: true, force: true })]);
});

describe("ctr images import reads a bundle archive", () => {
  it("stores every entry under its name at its digest", async () => {
    const image = await pushImage(registry, {
      repository: "ctr/layered",
      tag: "v1",
      layers: [
        { size: 120_000, seed: "ctr-a" },
        { size: 30_000, seed: "ctr-b" },
      ],
    });
    const multi = await pushIndex(registry, {
      repository: "ctr/multi",
      tag: "v1",
      platforms: [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64" },
      ],
    });
    const set = await writeSet(dir, "ctr", [
      { image: image.reference, digest: image.digest },
      { image: `${image.repository}@${image.digest}`, digest: image.digest },
      { image: multi.reference, digest: multi.digest },
    ]);
    const archive = join(dir, "bundle.tar");
    const bundle = await runMain(["bundle", set, "-o", archive, "--archive"]);
    expect(bundle.code).toBe(0);

    await containerd.ctr(["images", "import", archive]);
    const listed = await containerd.ctr(["images", "ls"]);
    const digestOf = (name: string): string | undefined =>
      listed
        .split("\n")
        .find((line) => line.startsWith(`${name} `))
        ?.split(/\s+/)
        .find((field) => field.startsWith("sha256:"));
    expect(digestOf(image.reference)).toBe(image.digest);
    expect(digestOf(`${image.repository}@${image.digest}`)).toBe(image.digest);
    expect(digestOf(multi.reference)).toBe(multi.digest);
  });
});
