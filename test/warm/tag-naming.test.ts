// A tagged locked entry warms with one PullImage on containerd: the tag, once the registry confirms
// it, is pointed at the digest's record through containerd's images service, and CRI reports it.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContainerdClient, createImageNamer } from "../../src/containerd/index.ts";
import { createCriClient } from "../../src/cri/index.ts";
import { parseReference } from "../../src/reference/index.ts";
import { warmOnce, type ImageRuntime } from "../../src/warm/index.ts";
import { runPrepull } from "../cli/run-prepull.ts";
import {
  pushImage,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type PushedImage,
  type RegistryInstance,
} from "../sandbox/index.ts";

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let runtime: ImageRuntime;
let pullCalls = 0;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  runtime = createCriClient({
    endpoint: containerd.endpoint,
    observer: ({ method }) => {
      if (method === "PullImage") pullCalls += 1;
    },
  });
});

afterAll(async () => {
  runtime.close();
  await Promise.all([containerd.stop(), registry.stop()]);
});

const digestName = (image: PushedImage): string => `${image.repository}@${image.digest}`;

/** The PullImage requests containerd's CRI logged for `reference` (it logs each as it starts). */
async function pullsLogged(reference: string): Promise<number> {
  const log = await readFile(join(containerd.root, "containerd.log"), "utf8");
  const started = `msg="PullImage \\"${reference}\\""`;
  return log.split("\n").filter((line) => line.includes(started)).length;
}

/** What CRI reports for each name: the image id, or undefined. */
async function idsOf(names: readonly string[]): Promise<Array<string | undefined>> {
  return Promise.all(names.map(async (name) => (await runtime.imageStatus(name))?.id));
}

describe(`a tagged locked entry on containerd (${process.env.PREPULL_TEST_RUNTIME ?? "containerd-2"})`, () => {
  it("prepull warm --config: one PullImage, by digest; the tag and the digest resolve through CRI", async () => {
    const image = await pushImage(registry, {
      repository: "named/app",
      tag: "1.0",
      layers: [{ size: 64_000, seed: "named-app" }],
    });
    const set = join(containerd.root, "set.yaml");
    await writeFile(
      set,
      [
        "apiVersion: prepull/v1",
        "kind: ImageSet",
        "metadata:",
        "  name: named",
        "spec:",
        "  images:",
        `    - image: ${image.reference}`,
        `      digest: ${image.digest}`,
        "",
      ].join("\n"),
    );
    const run = await runPrepull([
      "warm",
      "--config",
      set,
      "--runtime-endpoint",
      containerd.endpoint,
      "-o",
      "json",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { images: Array<{ result: string; pulls: string[] }> };
    expect(report.images).toMatchObject([{ result: "pulled", pulls: [digestName(image)] }]);
    // containerd's own account: one PullImage, by digest, and none of the tag.
    expect(await pullsLogged(digestName(image))).toBe(1);
    expect(await pullsLogged(image.reference)).toBe(0);

    expect(await idsOf([image.reference, digestName(image)])).toEqual([
      image.configDigest,
      image.configDigest,
    ]);
    const listed = (await runtime.listImages()).filter((found) => found.id === image.configDigest);
    expect(listed).toMatchObject([{ repoTags: [image.reference], repoDigests: [digestName(image)] }]);
    expect(await containerd.ctr(["images", "ls", "-q"])).toContain(image.reference);

    const again = await runPrepull(["warm", "--config", set, "--runtime-endpoint", containerd.endpoint]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("present");
  });

  it("warmOnce of name:tag@digest, and of a tag moved back to a digest the node holds: one PullImage in all", async () => {
    const first = await pushImage(registry, {
      repository: "named/lib",
      tag: "2",
      layers: [{ size: 32_000, seed: "named-lib-1" }],
    });
    const api = createContainerdClient({ endpoint: containerd.endpoint });
    const warm = (image: string, digest: string) =>
      warmOnce([{ image, reference: parseReference(image), digest }], {
        runtime,
        namer: createImageNamer(api),
        resolveTag: () => Promise.resolve(digest),
        concurrency: 1,
        pullTimeoutMs: 30_000,
      });
    try {
      const before = pullCalls;
      const [result] = await warm(`${first.reference}@${first.digest}`, first.digest);
      expect(result).toMatchObject({ outcome: "pulled", pulls: [digestName(first)] });
      expect(pullCalls - before).toBe(1);
      expect(await idsOf([first.reference, digestName(first)])).toEqual([
        first.configDigest,
        first.configDigest,
      ]);

      // The tag is moved to a second image the node holds by digest: no pull at all.
      const second = await pushImage(registry, {
        repository: "named/lib",
        tag: "2",
        layers: [{ size: 32_000, seed: "named-lib-2" }],
      });
      await runtime.pullImage(digestName(second));
      const afterSecond = pullCalls;
      const [moved] = await warm(first.reference, second.digest);
      expect(moved).toMatchObject({ outcome: "pulled", pulls: [], imageId: second.configDigest });
      expect(pullCalls).toBe(afterSecond);
      expect(await idsOf([first.reference])).toEqual([second.configDigest]);
      expect((await runtime.imageStatus(digestName(first)))?.repoTags).toEqual([]);
    } finally {
      api.close();
    }
  });
});
