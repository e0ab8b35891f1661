import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createContainerdClient,
  readBlobProgress,
  readIngestProgress,
  type BlobRef,
  type ContainerdApi,
  type PullProgress,
} from "../../src/containerd/index.ts";
import { createCriClient } from "../../src/cri/index.ts";
import type { ImageRuntime } from "../../src/warm/index.ts";
import {
  pushImage,
  startContainerd,
  startThrottledBlobProxy,
  startRegistry,
  type ContainerdInstance,
  type FaultServer,
  type RegistryInstance,
} from "../sandbox/index.ts";

const MiB = 1024 * 1024;
/**
 * containerd copies a download into its ingest in 1 MiB reads (content.Copy reads at least its
 * buffer's size), so the offset moves in 1 MiB steps: a 3.5 MiB layer at 1 MiB/s shows three.
 */
const LAYER_BYTES = 3.5 * MiB;
const BYTES_PER_SECOND = MiB;

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let slow: FaultServer;
let cri: ImageRuntime;
let api: ContainerdApi;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  slow = await startThrottledBlobProxy(registry, BYTES_PER_SECOND);
  cri = createCriClient({ endpoint: containerd.endpoint });
  api = createContainerdClient({ endpoint: containerd.endpoint });
});

afterAll(async () => {
  cri.close();
  api.close();
  await Promise.all([containerd.stop(), slow.close(), registry.stop()]);
});

/** The config and layers of the image's manifest, as the registry serves it. */
async function blobsOf(repository: string, digest: string): Promise<{ config: BlobRef; layers: BlobRef[] }> {
  const answer = await request(`${registry.url}/v2/${repository}/manifests/${digest}`, {
    headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  const manifest = (await answer.body.json()) as { config: BlobRef; layers: BlobRef[] };
  const ref = ({ digest: blob, size }: BlobRef): BlobRef => ({ digest: blob, size });
  return { config: ref(manifest.config), layers: manifest.layers.map(ref) };
}

describe("pull progress from containerd's content store", () => {
  it("shows the bytes of a CRI pull growing while it runs, and all of them once it is done", async () => {
    const pushed = await pushImage(registry, {
      repository: "progress/app",
      tag: "v1",
      layers: [{ size: LAYER_BYTES, seed: "progress" }],
    });
    const { config, layers } = await blobsOf("progress/app", pushed.digest);
    const total = layers.reduce((sum, layer) => sum + layer.size, 0);

    const state = { settled: false };
    const pull = cri.pullImage(`${slow.host}/progress/app:v1`).finally(() => {
      state.settled = true;
    });
    const seen: PullProgress[] = [];
    while (!state.settled) {
      const ingests = await readIngestProgress(api);
      if (ingests.activeBlobs > 0) {
        // Read later, so at least as far along; finished blobs count whole. The config may be the
        // blob in flight, so it is counted too.
        expect((await readBlobProgress(api, [config, ...layers])).bytesDone).toBeGreaterThanOrEqual(
          ingests.bytesDone,
        );
        seen.push(ingests);
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await pull;

    const inFlight = seen.filter((sample) => sample.bytesDone > 0 && sample.bytesDone < sample.bytesTotal);
    const offsets = inFlight.map((sample) => sample.bytesDone);
    expect(new Set(offsets).size).toBeGreaterThanOrEqual(2);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    // The layer, with the config when its download overlaps.
    expect(
      inFlight.every((sample) => sample.bytesTotal === total || sample.bytesTotal === total + config.size),
    ).toBe(true);

    expect(await readBlobProgress(api, layers)).toEqual({
      bytesDone: total,
      bytesTotal: total,
      activeBlobs: 0,
    });
    expect((await readIngestProgress(api)).activeBlobs).toBe(0);
  });
});
