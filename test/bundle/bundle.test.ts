import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION } from "../../src/bundle/index.ts";
import { runMain } from "../cli/run-prepull.ts";
import {
  pushArtifact,
  pushImage,
  pushIndex,
  startFaultProxy,
  startRegistry,
  type FaultServer,
  type RegistryInstance,
} from "../sandbox/index.ts";
import {
  fetchDocument,
  layoutBlobs,
  manifestBlobDigests,
  readLayoutIndex,
  writeSet,
} from "./layout-files.ts";

const run = promisify(execFile);

let registry: RegistryInstance;
let dir: string;
const proxies: FaultServer[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), "prepull-bundle-"));
});

afterAll(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await Promise.all([registry.stop(), rm(dir, { recursive: true, force: true })]);
});

const PLATFORMS = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64", variant: "v8" },
  { os: "linux", architecture: "arm", variant: "v7" },
  { os: "linux", architecture: "s390x" },
];

/** Manifest digests of an index's children, by `os/arch[/variant]`. */
async function childrenOf(repository: string, digest: string): Promise<Map<string, string>> {
  const index = await fetchDocument(registry, repository, digest);
  return new Map(
    (index.manifests ?? []).map((child) => [
      [child.platform?.os, child.platform?.architecture, child.platform?.variant].filter(Boolean).join("/"),
      child.digest,
    ]),
  );
}

describe("prepull bundle writes an OCI image layout", () => {
  it("packs a layered image and an artifact under the names pods use, every blob verified", async () => {
    const image = await pushImage(registry, {
      repository: "bundle/layered",
      tag: "v1",
      layers: [
        { size: 300_000, seed: "bundle-a" },
        { size: 120_000, seed: "bundle-b", entropy: 0.2 },
        { size: 4_000, seed: "bundle-c" },
      ],
    });
    const artifact = await pushArtifact(registry, {
      repository: "bundle/volume",
      tag: "data",
      layers: [{ size: 50_000, seed: "bundle-volume" }],
    });
    const set = await writeSet(dir, "layered", [
      image.reference,
      `${image.repository}@${image.digest}`,
      artifact.reference,
    ]);
    const lock = await runMain(["lock", set]);
    expect(lock.code).toBe(0);
    const out = join(dir, "layered-layout");

    const bundle = await runMain(["bundle", set, "-o", out]);
    expect(bundle.stderr).toBe("");
    expect(bundle.code).toBe(0);
    expect(bundle.stdout).toContain("3 entries, 8 blobs");

    expect(JSON.parse(await readFile(join(out, "oci-layout"), "utf8"))).toEqual({
      imageLayoutVersion: "1.0.0",
    });
    const index = await readLayoutIndex(out);
    const byName = new Map(index.manifests.map((d) => [d.annotations?.[REF_NAME_ANNOTATION], d]));
    const tagged = byName.get(`${image.repository}:v1`);
    const untagged = byName.get(`${image.repository}@${image.digest}`);
    const volume = byName.get(`${artifact.repository}:data`);
    expect(tagged).toMatchObject({ digest: image.digest, mediaType: image.mediaType });
    expect(untagged?.digest).toBe(image.digest);
    expect(volume).toMatchObject({ digest: artifact.digest, mediaType: artifact.mediaType });
    for (const descriptor of index.manifests) {
      expect(descriptor.annotations?.[CONTAINERD_NAME_ANNOTATION]).toBe(
        descriptor.annotations?.[REF_NAME_ANNOTATION],
      );
    }
    expect(index.manifests).toHaveLength(3);
    const manifestBytes = await readFile(join(out, "blobs", "sha256", image.digest.slice("sha256:".length)));
    expect(tagged?.size).toBe(manifestBytes.length);

    const expected = [
      image.digest,
      ...(await manifestBlobDigests(registry, "bundle/layered", image.digest)),
      artifact.digest,
      ...(await manifestBlobDigests(registry, "bundle/volume", artifact.digest)),
    ];
    expect(await layoutBlobs(out)).toEqual([...new Set(expected)].sort());
  });

  it("keeps an index whole with linux/amd64 and linux/arm64 by default, others with --platform or --all-platforms", async () => {
    const multi = await pushIndex(registry, { repository: "bundle/multi", tag: "v2", platforms: PLATFORMS });
    const children = await childrenOf("bundle/multi", multi.digest);
    const set = await writeSet(dir, "multi", [{ image: multi.reference, digest: multi.digest }]);
    const blobsOf = async (platform: string): Promise<string[]> => {
      const child = children.get(platform) ?? "";
      return [child, ...(await manifestBlobDigests(registry, "bundle/multi", child))];
    };

    const defaults = join(dir, "multi-default");
    const first = await runMain(["bundle", set, "-o", defaults]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("(platforms linux/amd64, linux/arm64/v8)");
    const index = await readLayoutIndex(defaults);
    expect(index.manifests).toEqual([
      expect.objectContaining({ digest: multi.digest, mediaType: "application/vnd.oci.image.index.v1+json" }),
    ]);
    expect(await layoutBlobs(defaults)).toEqual(
      [multi.digest, ...(await blobsOf("linux/amd64")), ...(await blobsOf("linux/arm64/v8"))].sort(),
    );

    const arm = join(dir, "multi-arm");
    const chosen = await runMain(["bundle", set, "-o", arm, "--platform", "linux/arm/v7"]);
    expect(chosen.code).toBe(0);
    expect(await layoutBlobs(arm)).toEqual([multi.digest, ...(await blobsOf("linux/arm/v7"))].sort());

    const every = join(dir, "multi-all");
    const all = await runMain(["bundle", set, "-o", every, "--all-platforms"]);
    expect(all.code).toBe(0);
    const allBlobs = [multi.digest];
    for (const platform of children.keys()) allBlobs.push(...(await blobsOf(platform)));
    expect(await layoutBlobs(every)).toEqual([...new Set(allBlobs)].sort());
  });

  it("fails an index with none of the chosen platforms, naming the entry and what it has (exit 1)", async () => {
    const other = await pushIndex(registry, {
      repository: "bundle/mainframe",
      tag: "v1",
      platforms: [{ os: "linux", architecture: "s390x" }],
    });
    const set = await writeSet(dir, "mainframe", [{ image: other.reference, digest: other.digest }]);
    const result = await runMain(["bundle", set, "-o", join(dir, "mainframe-layout")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `prepull: not_found: ${other.reference}: no manifest for linux/amd64, linux/arm64`,
    );
    expect(result.stderr).toContain("linux/s390x");
  });

  it("refuses unlocked entries naming the file, the entry and the command that locks it (exit 2)", async () => {
    const image = await pushImage(registry, { repository: "bundle/unlocked", tag: "v1" });
    const set = await writeSet(dir, "unlocked", [image.reference]);
    const out = join(dir, "unlocked-layout");
    const result = await runMain(["bundle", set, "-o", out]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`prepull: input: 1 entry not locked`);
    expect(result.stderr).toContain(`${set}: spec.images[0]: ${image.reference}`);
    expect(result.stderr).toContain(`prepull lock ${set}`);
    await expect(stat(out)).rejects.toThrow();
  });

  it("refuses bad flags with exit 2", async () => {
    const set = await writeSet(dir, "flags", [{ image: "x.io/a:1", digest: `sha256:${"a".repeat(64)}` }]);
    const out = join(dir, "flags-layout");
    const badPlatform = await runMain(["bundle", set, "-o", out, "--platform", "linux"]);
    expect(badPlatform.code).toBe(2);
    expect(badPlatform.stderr).toContain(`--platform "linux": expected os/arch[/variant]`);
    const both = await runMain(["bundle", set, "-o", out, "--platform", "linux/amd64", "--all-platforms"]);
    expect(both.code).toBe(2);
    const noOut = await runMain(["bundle", set]);
    expect(noOut.code).toBe(2);
    const notLayout = join(dir, "not-a-layout");
    await writeFile(join(dir, "stray.txt"), "x");
    const intoDir = await runMain(["bundle", set, "-o", dir]);
    expect(intoDir.code).toBe(2);
    expect(intoDir.stderr).toContain("is not an OCI layout");
    await expect(stat(notLayout)).rejects.toThrow();
  });

  it("resumes: a second run fetches nothing, and a damaged blob is fetched again", async () => {
    const image = await pushImage(registry, {
      repository: "bundle/resume",
      tag: "v1",
      layers: [
        { size: 200_000, seed: "resume-a" },
        { size: 80_000, seed: "resume-b" },
      ],
    });
    const requests: string[] = [];
    const mirror = await startFaultProxy(registry, ({ method, path }) => {
      requests.push(`${method} ${path}`);
      return "pass";
    });
    proxies.push(mirror);
    const set = await writeSet(dir, "resume", [{ image: image.reference, digest: image.digest }]);
    const out = join(dir, "resume-layout");
    const flags = ["-o", out, "--mirror", `${registry.host}=${mirror.url}`];
    const blobGets = (): string[] => requests.filter((r) => r.startsWith("GET") && r.includes("/blobs/"));

    expect((await runMain(["bundle", set, ...flags])).code).toBe(0);
    const layers = await manifestBlobDigests(registry, "bundle/resume", image.digest);
    expect(blobGets()).toHaveLength(layers.length);
    const before = await layoutBlobs(out);

    requests.length = 0;
    const again = await runMain(["bundle", set, ...flags]);
    expect(again.code).toBe(0);
    expect(requests).toEqual([]);
    expect(again.stdout).toContain("fetched 0 blobs");
    expect(await layoutBlobs(out)).toEqual(before);

    // Same size, other bytes: only a hash finds it.
    const damaged = layers[1] ?? "";
    const path = join(out, "blobs", "sha256", damaged.slice("sha256:".length));
    await writeFile(path, Buffer.alloc((await stat(path)).size, 7));
    requests.length = 0;
    const repair = await runMain(["bundle", set, ...flags]);
    expect(repair.code).toBe(0);
    expect(blobGets()).toEqual([expect.stringContaining(`/blobs/${damaged}`)]);
    expect(await layoutBlobs(out)).toEqual(before);
  });

  it("refuses a blob whose bytes are not its digest, naming the blob and the entry", async () => {
    const image = await pushImage(registry, {
      repository: "bundle/tampered",
      tag: "v1",
      layers: [{ size: 64_000, seed: "tampered" }],
    });
    const manifest = await fetchDocument(registry, "bundle/tampered", image.digest);
    const layer = manifest.layers?.[0];
    if (layer === undefined) throw new Error("no layer");
    const proxy = await startFaultProxy(registry, ({ method, path }) =>
      method === "GET" && path.includes(`/blobs/${layer.digest}`)
        ? {
            status: 200,
            headers: { "content-type": "application/octet-stream", "content-length": String(layer.size) },
            body: "x".repeat(layer.size),
          }
        : "pass",
    );
    proxies.push(proxy);
    const name = `${proxy.host}/bundle/tampered:v1`;
    const set = await writeSet(dir, "tampered", [{ image: name, digest: image.digest }]);
    const out = join(dir, "tampered-layout");
    const result = await runMain(["bundle", set, "-o", out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^prepull: invalid: /);
    expect(result.stderr).toContain(name);
    expect(result.stderr).toContain(`content is sha256:`);
    expect(result.stderr).toContain(`not the requested ${layer.digest}`);
    const stored = await readdir(join(out, "blobs", "sha256"));
    expect(stored).not.toContain(layer.digest.slice("sha256:".length));
    expect(stored.filter((file) => file.startsWith("."))).toEqual([]);
  });

  it("writes one tar file with --archive that skopeo reads by name", async () => {
    const image = await pushImage(registry, {
      repository: "bundle/archived",
      tag: "v3",
      layers: [
        { size: 90_000, seed: "archived-a" },
        { size: 10_000, seed: "archived-b" },
      ],
    });
    const multi = await pushIndex(registry, {
      repository: "bundle/archived-multi",
      tag: "v1",
      platforms: PLATFORMS.slice(0, 2),
    });
    const set = await writeSet(dir, "archived", [
      { image: image.reference, digest: image.digest },
      { image: multi.reference, digest: multi.digest },
    ]);
    const archive = join(dir, "bundle.tar");
    const result = await runMain(["bundle", set, "-o", archive, "--archive"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(archive);
    await expect(stat(`${archive}.partial`)).rejects.toThrow();
    await expect(stat(`${archive}.tmp`)).rejects.toThrow();
    const { stdout: listing } = await run("tar", ["-tf", archive]);
    const members = listing.trim().split("\n");
    expect(members.slice(0, 4)).toEqual(["oci-layout", "index.json", "blobs/", "blobs/sha256/"]);

    for (const [name, pushed] of [
      [image.reference, image],
      [multi.reference, multi],
    ] as const) {
      const copy = await mkdtemp(join(dir, "skopeo-"));
      await run("skopeo", ["copy", `oci-archive:${archive}:${name}`, `dir:${copy}`]);
      const copied = JSON.parse(await readFile(join(copy, "manifest.json"), "utf8")) as {
        config: { digest: string };
      };
      expect(copied.config.digest).toBe(pushed.configDigest);
    }
  });

  it("writes a directory skopeo reads as oci:DIR:NAME", async () => {
    const image = await pushImage(registry, { repository: "bundle/oci-dir", tag: "v1" });
    const set = await writeSet(dir, "oci-dir", [{ image: image.reference, digest: image.digest }]);
    const out = join(dir, "oci-dir-layout");
    expect((await runMain(["bundle", set, "-o", out])).code).toBe(0);
    const { stdout } = await run("skopeo", ["inspect", "--raw", `oci:${out}:${image.reference}`]);
    expect((JSON.parse(stdout) as { config: { digest: string } }).config.digest).toBe(image.configDigest);
  });
});
