import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriClient } from "../../src/cri/index.ts";
import { parseReference } from "../../src/reference/index.ts";
import { createRegistryClient, type RegistryClient } from "../../src/registry/index.ts";
import { formatBytes } from "../../src/warm/disk-budget.ts";
import { createDiskGuard, imageFilesystemOf, warmOnce } from "../../src/warm/index.ts";
import { startAgentProcess, type AgentProcess } from "../agent/agent-process.ts";
import { runPrepull } from "../cli/run-prepull.ts";
import {
  pushArtifact,
  pushImage,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type RegistryInstance,
} from "../sandbox/index.ts";

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let runtime: ReturnType<typeof createCriClient>;
let registryClient: RegistryClient;
let dir: string;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  runtime = createCriClient({ endpoint: containerd.endpoint });
  registryClient = createRegistryClient({});
  dir = await mkdtemp(join(tmpdir(), "prepull-artifacts-"));
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
  runtime.close();
  await registryClient.close();
  await Promise.all([containerd.stop(), registry.stop(), rm(dir, { recursive: true, force: true })]);
});

/** containerd stores OCI artifacts from 2.1 on; 1.6 and 1.7 refuse them at unpack. */
function storesArtifacts(): boolean {
  const { major, minor } = containerd.runtime;
  return major > 2 || (major === 2 && minor >= 1);
}

/** sha256 of `{}`, the OCI empty descriptor's content. */
const EMPTY_CONFIG_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

const TOO_OLD =
  "this runtime is too old for OCI artifacts (image volumes); containerd 2.1 or later stores them";

async function writeSet(name: string, images: readonly string[]): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  const lines = images.map((image) => `    - ${image}\n`).join("");
  await writeFile(
    file,
    `apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: ${name}}\nspec:\n  images:\n${lines}`,
  );
  return file;
}

/** The first layer's digest, from the registry's copy of the manifest. */
async function layerDigest(repository: string, tag: string): Promise<string> {
  const path = repository.slice(registry.host.length + 1);
  const response = await fetch(`${registry.url}/v2/${path}/manifests/${tag}`, {
    headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  const manifest = (await response.json()) as { layers: Array<{ digest: string }> };
  return manifest.layers[0]?.digest ?? "";
}

interface WarmJson {
  images: Array<{ reference: string; result: string; errorKind: string | null; message: string | null }>;
}

describe("OCI artifacts on the runtime", { timeout: 120_000 }, () => {
  it("locks an artifact, warms it where the runtime stores artifacts, and says clearly where it cannot", async () => {
    const artifact = await pushArtifact(registry, { repository: "models/tiny", tag: "v1" });
    const set = await writeSet("weights", [artifact.reference]);

    const lock = await runPrepull(["lock", set]);
    expect(lock.code).toBe(0);
    expect(await readFile(set, "utf8")).toContain(`digest: ${artifact.digest}`);

    const warm = await runPrepull(["warm", "-r", containerd.endpoint, "--config", set, "-o", "json"]);
    const report = JSON.parse(warm.stdout) as WarmJson;
    const status = await runPrepull(["status", "-r", containerd.endpoint, "--config", set, "-o", "json"]);
    const entry = (JSON.parse(status.stdout) as { entries: Array<{ state: string }> }).entries[0];
    const byDigest = `${artifact.repository}@${artifact.digest}`;

    if (storesArtifacts()) {
      expect(warm.code).toBe(0);
      expect(report.images[0]).toMatchObject({ result: "pulled", errorKind: null });
      const image = await runtime.imageStatus(artifact.reference);
      expect(image?.repoDigests).toContain(byDigest);
      expect(status.code).toBe(0);
      expect(entry?.state).toBe("present");
      return;
    }
    expect(warm.code).toBe(1);
    expect(report.images[0]).toMatchObject({ result: "failed", errorKind: "unsupported" });
    expect(report.images[0]?.message).toContain(TOO_OLD);
    expect(report.images[0]?.message).toContain("mismatched image rootfs and manifest layers");
    // The runtime keeps a record of what it refused; it is removed again, so neither prepull nor
    // kubelet (ImageStatus with the pod's string) takes the artifact for present later.
    expect(await runtime.imageStatus(byDigest)).toBeUndefined();
    expect(await runtime.imageStatus(artifact.reference)).toBeUndefined();
    expect(status.code).toBe(1);
    expect(entry?.state).toMatch(/^missing/);
    const again = await runPrepull(["warm", "-r", containerd.endpoint, "--config", set]);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`${artifact.reference}: unsupported: ${TOO_OLD}`);
    expect(await runtime.imageStatus(artifact.reference)).toBeUndefined();
  });

  it("sizes an artifact for the disk guard from the registry, before any pull", async () => {
    const artifact = await pushArtifact(registry, {
      repository: "models/sized",
      tag: "v1",
      layers: [{ size: 64 * 1024, seed: "sized" }],
    });
    const reference = parseReference(artifact.reference);
    const [result] = await warmOnce([{ image: artifact.reference, reference, digest: undefined }], {
      runtime,
      concurrency: 1,
      pullTimeoutMs: 60_000,
      // Any pull crosses this threshold: the guard's message shows the size it was given.
      diskGuard: createDiskGuard({ threshold: 1e-9, mountpoint: imageFilesystemOf(runtime) }),
      sizeOf: async (ref, signal) => (await registryClient.resolve(ref, { withSize: true, signal })).pullSize,
    });
    expect(result).toMatchObject({ outcome: "blocked", errorKind: "disk", pulls: [] });
    // Its layer is an uncompressed tar: it unpacks to its own size, no estimate needed.
    const compressed = artifact.platformSize;
    const layer = compressed - "{}".length;
    expect(result?.message).toContain(
      `needs ${formatBytes(compressed + layer)} (${formatBytes(compressed)} to download, ${formatBytes(layer)} unpacked)`,
    );
    expect(await runtime.imageStatus(artifact.reference)).toBeUndefined();
  });

  it("what the runtime stores for an artifact: one CRI image per config, no snapshot, few layer blobs", async () => {
    const tarLayer = await pushArtifact(registry, {
      repository: "models/tar-layer",
      tag: "v1",
      layers: [{ size: 256 * 1024, seed: "tar-layer" }],
    });
    const ownType = await pushArtifact(registry, {
      repository: "models/own-type",
      tag: "v1",
      layers: [{ size: 256 * 1024, seed: "own-type" }],
      layerMediaType: "application/vnd.prepull.test.weights.v1",
    });
    if (!storesArtifacts()) {
      await expect(runtime.pullImage(tarLayer.reference)).rejects.toMatchObject({ kind: "unsupported" });
      return;
    }
    for (const artifact of [tarLayer, ownType]) await runtime.pullImage(artifact.reference);
    // CRI keys images by config digest: every artifact with the empty config is one image to it,
    // whose size is that of whichever came first (so is kubelet's and prepull's view of its size).
    const [first, second] = await Promise.all(
      [tarLayer, ownType].map((a) => runtime.imageStatus(a.reference)),
    );
    expect(first?.id).toBe(EMPTY_CONFIG_DIGEST);
    expect(second?.id).toBe(EMPTY_CONFIG_DIGEST);
    expect(first?.repoTags).toEqual(expect.arrayContaining([tarLayer.reference, ownType.reference]));
    // containerd 2.1 unpacks neither, and fetches a layer only when its type is not an
    // image layer's: the disk guard's unpack factor overestimates every artifact.
    expect(await containerd.ctr(["snapshots", "--snapshotter", "native", "ls"])).not.toMatch(/sha256:/);
    const content = await containerd.ctr(["content", "ls"]);
    expect(content).not.toMatch(new RegExp(`^${await layerDigest(tarLayer.repository, "v1")}\\s`, "m"));
    expect(content).toMatch(new RegExp(`^${await layerDigest(ownType.repository, "v1")}\\s`, "m"));
  });

  it("an agent warms a pod's image volume under the volume's own reference", async () => {
    const artifact = await pushArtifact(registry, { repository: "models/pod-weights", tag: "v2" });
    const server = await pushImage(registry, {
      repository: "models/server",
      tag: "1.0",
      layers: [{ size: 2048, seed: "server" }],
    });
    const manifest = join(dir, "pod.yaml");
    await writeFile(
      manifest,
      [
        "apiVersion: v1",
        "kind: Pod",
        "metadata: { name: llm }",
        "spec:",
        "  containers:",
        `    - { name: server, image: ${server.reference}, imagePullPolicy: IfNotPresent }`,
        "  volumes:",
        "    - name: weights",
        `      image: { reference: ${artifact.reference}, pullPolicy: Never }`,
        "",
      ].join("\n"),
    );
    const plan = await runPrepull(["plan", manifest, "-o", "imageset", "--name", "llm"]);
    expect(plan.code).toBe(0);
    const set = join(dir, "llm.yaml");
    await writeFile(set, plan.stdout);
    expect((await runPrepull(["lock", set])).code).toBe(0);
    const locked = await readFile(set, "utf8");
    expect(locked).toContain(`digest: ${artifact.digest}`);
    expect(locked).toContain(`digest: ${server.digest}`);

    const agent = await startAgentProcess(["--config", set, "--runtime-endpoint", containerd.endpoint]);
    agents.push(agent);
    if (storesArtifacts()) {
      const status = await agent.waitFor((s) => s.warm, "the set to be warm");
      expect(status.entries.map((e) => e.state)).toEqual(["present", "present"]);
      // The string kubelet passes to ImageStatus for the volume, as the pod writes it.
      expect(await runtime.imageStatus(artifact.reference)).toBeDefined();
      return;
    }
    const status = await agent.waitFor(
      (s) =>
        s.entries.some((e) => e.image === artifact.reference && e.state === "failed") &&
        s.entries.some((e) => e.image === server.reference && e.state === "present"),
      "the volume's entry to fail and the server's to be present",
    );
    const volume = status.entries.find((e) => e.image === artifact.reference);
    expect(volume).toMatchObject({ errorKind: "unsupported" });
    expect(volume?.message).toContain(TOO_OLD);
    expect(status.warm).toBe(false);
  });
});
