import { execFile } from "node:child_process";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleReader, createBundleImporter, blobPath } from "../../src/bundle/index.ts";
import { createContainerdClient } from "../../src/containerd/index.ts";
import { createCriClient } from "../../src/cri/index.ts";
import { nodePlatform } from "../../src/registry/index.ts";
import type { ImageRuntime } from "../../src/warm/index.ts";
import { runPrepull } from "../cli/run-prepull.ts";
import {
  type ContainerdInstance,
  pushArtifact,
  type PushedImage,
  pushImage,
  pushIndex,
  type RegistryInstance,
  skopeoCopy,
  startContainerd,
  startRegistry,
} from "../sandbox/index.ts";

const run = promisify(execFile);

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let cri: ImageRuntime;
let work: string;
/** containerd 1.7 and later serve the transfer service's import; 1.6 cannot import. */
let canImport: boolean;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  cri = createCriClient({ endpoint: containerd.endpoint });
  work = await mkdtemp(join(tmpdir(), "prepull-bundle-import-"));
  canImport = containerd.runtime.major > 1 || containerd.runtime.minor >= 7;
});

afterAll(async () => {
  cri.close();
  await Promise.all([containerd.stop(), registry.stop(), rm(work, { recursive: true, force: true })]);
});

/** A bundle as skopeo writes one: `oci-archive:` (a tar) or `oci:` (a directory), every platform. */
async function skopeoBundle(image: PushedImage, kind: "oci-archive" | "oci", name: string): Promise<string> {
  const path = join(work, name);
  await skopeoCopy(image.reference, `${kind}:${path}`, { allPlatforms: true });
  return path;
}

function setFile(images: readonly PushedImage[]): Promise<string> {
  const lines = images.flatMap((image) => [
    `    - image: ${image.reference}`,
    `      digest: ${image.digest}`,
  ]);
  const text = [
    "apiVersion: prepull/v1",
    "kind: ImageSet",
    "metadata:",
    "  name: air-gap",
    "spec:",
    "  images:",
    ...lines,
    "",
  ];
  const file = join(work, `set-${String(Math.random()).slice(2)}.yaml`);
  return open(file, "w").then(async (handle) => {
    await handle.writeFile(text.join("\n"));
    await handle.close();
    return file;
  });
}

interface WarmJson {
  warm: boolean;
  images: Array<{
    reference: string;
    result: string;
    source: string | null;
    errorKind: string | null;
    message: string | null;
  }>;
}

async function warmFrom(set: string, bundles: readonly string[], extra: readonly string[] = []) {
  const result = await runPrepull([
    "warm",
    "--config",
    set,
    ...bundles.flatMap((bundle) => ["--from", bundle]),
    "--runtime-endpoint",
    containerd.endpoint,
    "-o",
    "json",
    ...extra,
  ]);
  return { ...result, report: result.stdout === "" ? undefined : (JSON.parse(result.stdout) as WarmJson) };
}

/** CRI learns of records containerd's API creates from its events, a moment later. */
async function resolves(name: string): Promise<string[] | undefined> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const found = await cri.imageStatus(name);
    if (found !== undefined) return [...found.repoDigests];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

describe(`bundle import (${process.env.PREPULL_TEST_RUNTIME ?? "containerd-2"})`, () => {
  it("imports a locked layered image from an oci-archive with its registry stopped, under the names pods use", async () => {
    const offline = await startRegistry();
    const image = await pushImage(offline, {
      repository: "air/app",
      tag: "1.0",
      layers: [
        { size: 300_000, seed: "air-app-1" },
        { size: 200_000, seed: "air-app-2" },
      ],
    });
    const bundle = await skopeoBundle(image, "oci-archive", "app.tar");
    await offline.stop();
    const set = await setFile([image]);

    const first = await warmFrom(set, [bundle], ["--offline"]);
    if (!canImport) {
      expect(first.code).toBe(1);
      expect(first.report?.images[0]).toMatchObject({ result: "failed", errorKind: "not_found" });
      expect(first.report?.images[0]?.message).toContain("no transfer service to import with");
      return;
    }
    expect(first.code).toBe(0);
    expect(first.report?.images[0]).toMatchObject({ result: "pulled", source: "bundle" });
    const digestName = `${image.repository}@${image.digest}`;
    expect(await resolves(`${image.repository}:1.0`)).toContain(digestName);
    expect(await resolves(digestName)).toContain(digestName);
    expect((await cri.imageStatus(digestName))?.id).toBe(image.configDigest);
    // The staging record that held the archive's index during the import is gone.
    expect(await containerd.ctr(["images", "ls", "-q"])).not.toContain("import.prepull.dev");

    const again = await warmFrom(set, [bundle], ["--offline"]);
    expect(again.report?.images[0]).toMatchObject({ result: "present" });
  });

  it("imports its own bundle (prepull bundle --archive) of a set with an index, a layered image and an artifact", async () => {
    const [layered, multi, artifact] = await Promise.all([
      pushImage(registry, {
        repository: "own/layered",
        tag: "3",
        layers: [
          { size: 120_000, seed: "own-1" },
          { size: 60_000, seed: "own-2" },
        ],
      }),
      pushIndex(registry, {
        repository: "own/multi",
        tag: "3",
        platforms: [
          { os: "linux", architecture: "amd64" },
          { os: "linux", architecture: "arm64" },
        ],
      }),
      pushArtifact(registry, { repository: "own/artifact", tag: "3" }),
    ]);
    const set = await setFile([layered, multi, artifact]);
    const archive = join(work, "own.tar");
    const packed = await runPrepull(["bundle", set, "-o", archive, "--archive"]);
    expect(packed.stderr).toBe("");
    expect(packed.code).toBe(0);
    const result = await warmFrom(set, [archive], ["--offline"]);
    if (!canImport) {
      expect(result.code).toBe(1);
      return;
    }
    expect(result.code).toBe(0);
    expect(result.report?.images.map((entry) => entry.source)).toEqual(["bundle", "bundle", "bundle"]);
    for (const image of [layered, multi, artifact]) {
      expect(await resolves(`${image.repository}:3`)).toContain(`${image.repository}@${image.digest}`);
    }
  });

  it("imports a multi-platform index by its digest and unpacks the node's platform only", async () => {
    const other = nodePlatform().architecture === "arm64" ? "amd64" : "arm64";
    const image = await pushIndex(registry, {
      repository: "air/multi",
      tag: "2",
      platforms: [
        {
          os: "linux",
          architecture: nodePlatform().architecture,
          layers: [{ size: 100_000, seed: "multi-node" }],
        },
        { os: "linux", architecture: other, layers: [{ size: 100_000, seed: "multi-other" }] },
      ],
    });
    const bundle = await skopeoBundle(image, "oci", "multi");
    const result = await warmFrom(await setFile([image]), [bundle], ["--offline"]);
    if (!canImport) {
      expect(result.code).toBe(1);
      return;
    }
    expect(result.report?.images[0]).toMatchObject({ result: "pulled", source: "bundle" });
    const found = await cri.imageStatus(`${image.repository}@${image.digest}`);
    expect(found?.id).toBe(image.configDigest);
    const records = await containerd.ctr(["images", "ls"]);
    expect(records).toContain(`${image.repository}:2`);
    expect(records).toContain(image.digest);
  });

  it("refuses a tampered blob, naming the blob and the bundle, and names nothing", async () => {
    const image = await pushImage(registry, {
      repository: "air/tampered",
      tag: "1",
      layers: [{ size: 150_000, seed: "tamper" }],
    });
    const bundle = await skopeoBundle(image, "oci", "tampered");
    const manifest = JSON.parse(
      (await run("skopeo", ["inspect", "--raw", `oci:${bundle}:${image.reference}`])).stdout,
    ) as { layers: Array<{ digest: string }> };
    const layer = manifest.layers[0]?.digest ?? "";
    const file = await open(join(bundle, blobPath(layer)), "r+");
    await file.write(Buffer.from([0x42]), 0, 1, 5_000);
    await file.close();

    const result = await warmFrom(await setFile([image]), [bundle], ["--offline"]);
    expect(result.code).toBe(1);
    if (!canImport) return;
    expect(result.stderr).toBe("");
    expect(result.report?.images[0]).toMatchObject({ result: "failed", errorKind: "invalid" });
    expect(result.report?.images[0]?.message).toContain(layer);
    expect(result.report?.images[0]?.message).toContain(bundle);
    expect(await cri.imageStatus(`${image.repository}@${image.digest}`)).toBeUndefined();
  });

  it("pulls what no bundle holds, and fails it not_found offline", async () => {
    const [held, missing] = await Promise.all([
      pushImage(registry, { repository: "air/held", tag: "1", layers: [{ size: 50_000, seed: "held" }] }),
      pushImage(registry, {
        repository: "air/missing",
        tag: "1",
        layers: [{ size: 50_000, seed: "missing" }],
      }),
    ]);
    const bundle = await skopeoBundle(held, "oci-archive", "held.tar");
    const set = await setFile([held, missing]);

    const offline = await warmFrom(set, [bundle], ["--offline"]);
    expect(offline.code).toBe(1);
    const missed = offline.report?.images.find((entry) => entry.reference === missing.reference);
    expect(missed).toMatchObject({ result: "failed", errorKind: "not_found" });
    expect(missed?.message).toContain("no registry is used");

    const online = await warmFrom(set, [bundle]);
    expect(online.code).toBe(0);
    const sources = Object.fromEntries(
      online.report?.images.map((entry) => [entry.reference, entry.source]) ?? [],
    );
    expect(sources[missing.reference]).toBe("registry");
    if (canImport)
      expect(offline.report?.images.find((entry) => entry.reference === held.reference)?.source).toBe(
        "bundle",
      );
  });

  it("resumes an interrupted import on the next attempt", async () => {
    if (!canImport) return;
    const image = await pushImage(registry, {
      repository: "air/resume",
      tag: "1",
      layers: [
        { size: 2_000_000, seed: "resume-1" },
        { size: 2_000_000, seed: "resume-2" },
      ],
    });
    const bundle = await skopeoBundle(image, "oci-archive", "resume.tar");
    const api = createContainerdClient({ endpoint: containerd.endpoint });
    const stop = new AbortController();
    let sent = 0;
    const importer = createBundleImporter({
      catalog: () => new BundleReader([bundle]).catalog(),
      store: api,
      platform: nodePlatform(),
      timeoutMs: 60_000,
      onProgress: (_image, bytes) => {
        sent = bytes;
        if (bytes > 1_000_000) stop.abort(new Error("interrupted"));
      },
    });
    const names = [`${image.repository}@${image.digest}`, `${image.repository}:1`];
    const request = { image: image.reference, digest: image.digest, names };
    await expect(importer.importImage(request, { signal: stop.signal })).rejects.toThrow();
    expect(sent).toBeLessThan(4_000_000);
    expect(await cri.imageStatus(names[0] ?? "")).toBeUndefined();

    const resumed = await importer.importImage(request);
    expect(resumed).toMatchObject({ imported: true, bundle });
    expect(await resolves(names[0] ?? "")).toContain(names[0]);
    api.close();
  });

  it("imports an OCI artifact (an image volume's) by its digest", async () => {
    const artifact = await pushArtifact(registry, { repository: "air/artifact", tag: "1" });
    const bundle = await skopeoBundle(artifact, "oci", "artifact");
    const result = await warmFrom(await setFile([artifact]), [bundle], ["--offline"]);
    // containerd 1.7 stores an imported artifact although its CRI pulls refuse them.
    if (!canImport) {
      expect(result.code).toBe(1);
      return;
    }
    expect(result.report?.images[0]).toMatchObject({ result: "pulled", source: "bundle" });
    expect(await resolves(`${artifact.repository}@${artifact.digest}`)).toContain(
      `${artifact.repository}@${artifact.digest}`,
    );
  });

  it("imports an archive made by ctr images export", async () => {
    const image = await pushImage(registry, {
      repository: "air/exported",
      tag: "1",
      layers: [{ size: 90_000, seed: "exported" }],
    });
    await cri.pullImage(image.reference);
    const archive = join(work, "exported.tar");
    // ctr 2.1's export through the transfer service can leave its archive short of the last
    // members when it exits (seen here: no index.json nor oci-layout); --local writes it itself.
    const local = containerd.runtime.major >= 2 ? ["--local"] : [];
    await containerd.ctr(["images", "export", ...local, archive, image.reference]);
    await cri.removeImage(image.reference);
    expect(await cri.imageStatus(image.reference)).toBeUndefined();

    const result = await warmFrom(await setFile([image]), [archive], ["--offline"]);
    if (!canImport) {
      expect(result.code).toBe(1);
      return;
    }
    expect(result.stderr).toBe("");
    expect(result.report?.images[0]).toMatchObject({ result: "pulled", source: "bundle" });
    expect(await resolves(`${image.repository}@${image.digest}`)).toContain(
      `${image.repository}@${image.digest}`,
    );
  });

  it("refuses a Docker archive without an OCI layout, naming it (exit 2)", async () => {
    const image = await pushImage(registry, { repository: "air/docker", tag: "1" });
    const archive = join(work, "docker.tar");
    await skopeoCopy(image.reference, `docker-archive:${archive}`);
    const result = await warmFrom(await setFile([image]), [archive], ["--offline"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(archive);
    expect(result.stderr).toContain("Docker archive without an OCI layout");
  });
});
