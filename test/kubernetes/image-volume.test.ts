import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { runPrepull } from "../cli/run-prepull.ts";
import { pushArtifact, pushImage, type FileLayer, type PushedImage } from "../sandbox/index.ts";
import {
  createNamespace,
  createPod,
  eventLines,
  podEvents,
  startCluster,
  statusOf,
  waitForPod,
  waitingReason,
  type Cluster,
} from "./harness/index.ts";

// Image volumes (KEP-4639) on kubelet v1.37 and containerd 2.1: kubelet resolves
// `volumes[].image` like a container image (getImageVolumes → EnsureImageExists, with the
// volume's pullPolicy) and hands containerd the image id; containerd unpacks that image into a
// snapshot and mounts it (mutateImageMount). The container lists what it sees at MOUNT.

const NAMESPACE = "image-volumes";
const MOUNT = "/data";
/** sha256 of `{}`: the config, and so the CRI image id, of every artifact with the empty config. */
const EMPTY_CONFIG_ID = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
let cluster: Cluster;
let lister: PushedImage;
/** Set once the cluster runs, so a set-up that failed half-way still tears it down. */
let stopCluster = (): Promise<void> => Promise.resolve();

beforeAll(async () => {
  cluster = await startCluster();
  stopCluster = () => cluster.stop();
  await createNamespace(cluster.api, NAMESPACE);
  // The listing program, with a layer of its own so it is not the same image as the pause image.
  lister = await cluster.pushWorkloadImage(cluster.registry, "volumes/lister", "1", [
    { size: 512, seed: "lister" },
  ]);
  await warm([lister.reference]);
});

afterAll(() => stopCluster());

function reportOnFailure(): void {
  onTestFailed(() => {
    process.stderr.write(`${cluster.logTails()}\n`);
  });
}

async function warm(references: readonly string[]): Promise<void> {
  const { containerd } = cluster.node;
  const run = await runPrepull([
    "warm",
    ...["--runtime-endpoint", containerd.endpoint, "--registry-hosts-dir", containerd.certsDir],
    ...references,
  ]);
  expect(run.code, run.stdout + run.stderr).toBe(0);
}

/** A data-only OCI image (regular config, no entrypoint): one layer per group of files. */
function pushDataImage(repository: string, tag: string, layers: FileLayer[]): Promise<PushedImage> {
  return pushImage(cluster.registry, { repository, tag, layers });
}

/** What `workload ls` prints for those layers: "path size" lines, sorted. */
function listingOf(layers: readonly FileLayer[]): string {
  const lines = layers.flatMap((layer) => layer.files.map((file) => `${file.path} ${file.content.length}`));
  return lines.sort().join("\n");
}

/** One run-to-completion container that lists the image volume, both with pull policy Never. */
async function createListingPod(name: string, reference: string): Promise<void> {
  await createPod(cluster.api, NAMESPACE, name, {
    restartPolicy: "Never",
    containers: [
      {
        name: "main",
        image: lister.reference,
        imagePullPolicy: "Never",
        args: ["ls", MOUNT],
        volumeMounts: [{ name: "data", mountPath: MOUNT }],
      },
    ],
    volumes: [{ name: "data", image: { reference, pullPolicy: "Never" } }],
  });
}

/** The container's exit code and termination message (the listing), once it has run. */
async function terminated(name: string): Promise<{ exitCode: number; message: string | undefined }> {
  const pod = await waitForPod(cluster.api, NAMESPACE, name, "finished", (candidate) => {
    return statusOf(candidate, "main")?.state?.terminated !== undefined;
  });
  const state = statusOf(pod, "main")?.state?.terminated;
  return { exitCode: state?.exitCode ?? -1, message: state?.message };
}

async function waitingMessage(name: string, reason: string): Promise<string> {
  const pod = await waitForPod(cluster.api, NAMESPACE, name, `waiting for ${reason}`, (candidate) => {
    return waitingReason(candidate, "main") === reason;
  });
  return statusOf(pod, "main")?.state?.waiting?.message ?? "";
}

async function events(name: string): Promise<string[]> {
  return eventLines(await podEvents(cluster.api, NAMESPACE, name));
}

function presentEvent(reference: string): string {
  return `Pulled: Container image "${reference}" already present on machine and can be accessed by the pod`;
}

describe("image volumes with pullPolicy Never", () => {
  it("are refused with ErrImageNeverPull while absent; the same pod mounts the files once prepull warms the image", async () => {
    reportOnFailure();
    const layers: FileLayer[] = [
      { files: [{ path: "model/weights.bin", content: Buffer.alloc(6000, 7) }] },
      {
        files: [
          { path: "model/config.json", content: Buffer.from('{"layers":2}') },
          { path: "README", content: Buffer.alloc(300, 65) },
        ],
      },
    ];
    const weights = await pushDataImage("volumes/weights", "v1", layers);
    await createListingPod("weights", weights.reference);
    const refusal = `Container image "${weights.reference}" is not present with pull policy of Never`;
    expect(await waitingMessage("weights", "ErrImageNeverPull")).toBe(refusal);
    const before = await events("weights");
    expect(before).toContain(`ErrImageNeverPull: ${refusal}`);
    expect(before).toContain("Failed: Error: ErrImageNeverPull");

    await warm([weights.reference]);
    expect(await terminated("weights")).toEqual({ exitCode: 0, message: listingOf(layers) });
    expect(await events("weights")).toContain(presentEvent(weights.reference));
  });

  it("mounts a volume written name:tag@digest, warmed under that same string", async () => {
    reportOnFailure();
    const layers: FileLayer[] = [{ files: [{ path: "vocab.txt", content: Buffer.alloc(4321, 97) }] }];
    const tokenizer = await pushDataImage("volumes/tokenizer", "v2", layers);
    const reference = `${tokenizer.reference}@${tokenizer.digest}`;
    await warm([reference]);
    await createListingPod("tokenizer", reference);
    expect(await terminated("tokenizer")).toEqual({ exitCode: 0, message: listingOf(layers) });
    expect(await events("tokenizer")).toContain(presentEvent(reference));
  });

  it("OCI artifacts with the empty config: prepull warms them, kubelet finds them, containerd 2.1 mounts none of their files", async () => {
    reportOnFailure();
    // Layers typed as image layers: containerd wants a diff id for each, and `{}` has none.
    const tarLayers = await pushArtifact(cluster.registry, {
      repository: "volumes/artifact-tar",
      tag: "v1",
      layers: [{ size: 4096, seed: "artifact-tar" }],
    });
    await warm([tarLayers.reference]);
    await createListingPod("artifact-tar", tarLayers.reference);
    const mountError =
      "failed to mount image volume: failed to unpack image volume: mismatched image rootfs and manifest layers";
    expect(await waitingMessage("artifact-tar", "CreateContainerError")).toBe(mountError);
    const tarEvents = await events("artifact-tar");
    expect(tarEvents).toContain(presentEvent(tarLayers.reference));
    expect(tarEvents).toContain(`Failed: Error: ${mountError}`);

    // Layers of a type of their own: nothing to unpack, so the volume is an empty directory.
    const ownType = await pushArtifact(cluster.registry, {
      repository: "volumes/artifact-own-type",
      tag: "v1",
      layers: [{ size: 4096, seed: "artifact-own-type" }],
      layerMediaType: "application/vnd.prepull.test.weights.v1",
    });
    await warm([ownType.reference]);
    await createListingPod("artifact-own-type", ownType.reference);
    // An empty termination log: `ls` ran, exit 0, and found no file.
    expect(await terminated("artifact-own-type")).toEqual({ exitCode: 0, message: undefined });

    // Both share one image id, which containerd now records for the last one pulled: the pod of
    // the first artifact, retried by kubelet, mounts the second one's (empty) content instead.
    const records = await cluster.node.containerd.ctr(["images", "ls"]);
    const byId = records.split("\n").find((line) => line.startsWith(`${EMPTY_CONFIG_ID} `));
    expect(byId).toContain(ownType.digest);
    expect(await terminated("artifact-tar")).toEqual({ exitCode: 0, message: undefined });
  });
});
