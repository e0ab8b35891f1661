import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { runPrepull } from "../cli/run-prepull.ts";
import type { PushedImage } from "../sandbox/index.ts";
import {
  createNamespace,
  createPod,
  eventLines,
  isReady,
  podEvents,
  startCluster,
  statusOf,
  waitForPod,
  waitingReason,
  type Cluster,
  type Pod,
} from "./harness/index.ts";

// Every way a pod writes an image, each pulled by prepull and then started by kubelet with
// `imagePullPolicy: Never`: kubelet asks ImageStatus with the pod's own string, so prepull must
// have recorded that exact name.
interface Form {
  readonly label: string;
  /** As the pod writes it. */
  readonly image: string;
  readonly pushed: PushedImage;
}

const NAMESPACE = "never-pull";
let cluster: Cluster;
let forms: Form[];

beforeAll(async () => {
  cluster = await startCluster();
  const { registry } = cluster;
  const push = (repository: string, tag: string): Promise<PushedImage> =>
    // A layer of its own, so every image has a digest of its own.
    cluster.pushWorkloadImage(registry, repository, tag, [{ size: 512, seed: repository }]);
  const [tagged, digested, both, untagged, short] = await Promise.all([
    push("never/tagged", "1"),
    push("never/digested", "build-7"),
    push("never/both", "2"),
    push("never/untagged", "latest"),
    push("library/nevertool", "1.0"),
  ]);
  // docker.io through a mirror, the way air-gapped nodes reach it: containerd and prepull read
  // the same hosts.toml.
  await mkdir(join(cluster.node.containerd.certsDir, "docker.io"), { recursive: true });
  await writeFile(
    join(cluster.node.containerd.certsDir, "docker.io", "hosts.toml"),
    `server = "https://registry-1.docker.io"\n\n[host."http://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  forms = [
    { label: "name:tag", image: tagged.reference, pushed: tagged },
    { label: "name@digest", image: `${digested.repository}@${digested.digest}`, pushed: digested },
    { label: "name:tag@digest", image: `${both.reference}@${both.digest}`, pushed: both },
    { label: "untagged name (:latest)", image: untagged.repository, pushed: untagged },
    { label: "docker.io short name through a mirror", image: "nevertool:1.0", pushed: short },
  ];
  await createNamespace(cluster.api, NAMESPACE);
});

afterAll(async () => {
  await cluster.stop();
});

function reportOnFailure(): void {
  onTestFailed(() => {
    process.stderr.write(`${cluster.logTails()}\n`);
  });
}

function podPath(name: string): string {
  return `/api/v1/namespaces/${NAMESPACE}/pods/${name}`;
}

/** An init container and a container, both on `image` with pull policy Never. */
async function createNeverPod(name: string, image: string): Promise<void> {
  await createPod(cluster.api, NAMESPACE, name, {
    initContainers: [
      { name: "init", image, imagePullPolicy: "Never", args: ["say", `init ran from ${image}`] },
    ],
    containers: [{ name: "main", image, imagePullPolicy: "Never" }],
  });
}

/** A running pod on the pause image (present: containerd pulled it for the sandbox). */
async function createHostPod(name: string): Promise<void> {
  const pause = `${cluster.registry.host}/pause:3.10`;
  await createPod(cluster.api, NAMESPACE, name, {
    containers: [{ name: "main", image: pause, imagePullPolicy: "Never" }],
  });
  await waitForPod(cluster.api, NAMESPACE, name, "Ready", isReady);
}

/** Adds one ephemeral container per form, as `kubectl debug` does, through the subresource. */
async function addEphemeralContainers(pod: string): Promise<void> {
  await cluster.api.patch(`${podPath(pod)}/ephemeralcontainers`, {
    spec: {
      ephemeralContainers: forms.map((form, i) => ({
        name: `debug-${String(i)}`,
        image: form.image,
        imagePullPolicy: "Never",
        args: ["say", `ephemeral ran from ${form.image}`],
      })),
    },
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function digestOf(imageId: string | undefined): string | undefined {
  return imageId?.slice(imageId.lastIndexOf("@") + 1);
}

describe("pull policy Never on kubelet v1.37", () => {
  it("fails with ErrImageNeverPull for every form before prepull warms it: container, init and ephemeral", async () => {
    reportOnFailure();
    await Promise.all(forms.map((form, i) => createNeverPod(`before-${String(i)}`, form.image)));
    await createHostPod("host-before");
    await addEphemeralContainers("host-before");

    for (const [i, form] of forms.entries()) {
      const name = `before-${String(i)}`;
      const pod = await waitForPod(
        cluster.api,
        NAMESPACE,
        name,
        "refused by Never",
        (candidate) => waitingReason(candidate, "init") === "ErrImageNeverPull",
      );
      expect(statusOf(pod, "init")?.state?.waiting?.message, form.label).toContain(form.image);
      expect(isReady(pod)).toBe(false);
      const events = eventLines(await podEvents(cluster.api, NAMESPACE, name));
      expect(events.some((line) => line.startsWith("ErrImageNeverPull:") && line.includes(form.image))).toBe(
        true,
      );
    }
    await waitForPod(cluster.api, NAMESPACE, "host-before", "refusing every ephemeral container", (pod) =>
      forms.every((_, i) => waitingReason(pod, `debug-${String(i)}`) === "ErrImageNeverPull"),
    );
  });

  it("prepull warms every form on the node's containerd", async () => {
    const { containerd } = cluster.node;
    const run = await runPrepull([
      "warm",
      ...["--runtime-endpoint", containerd.endpoint, "--registry-hosts-dir", containerd.certsDir],
      ...forms.map((form) => form.image),
    ]);
    expect(run.code).toBe(0);
    // Progress goes to stderr, one line per image as the pod wrote it.
    for (const form of forms) expect(run.stderr).toMatch(new RegExp(`pulled +${escapeRegExp(form.image)} `));
  });

  it("starts the same pods with Never once warmed, each at the digest prepull pulled", async () => {
    reportOnFailure();
    await Promise.all(forms.map((form, i) => createNeverPod(`after-${String(i)}`, form.image)));
    await createHostPod("host-after");
    await addEphemeralContainers("host-after");

    for (const [i, form] of forms.entries()) {
      const pod: Pod = await waitForPod(cluster.api, NAMESPACE, `after-${String(i)}`, "Ready", isReady);
      const init = statusOf(pod, "init");
      expect(init?.state?.terminated?.exitCode, form.label).toBe(0);
      expect(init?.state?.terminated?.message).toBe(`init ran from ${form.image}`);
      expect(statusOf(pod, "main")?.state?.running, form.label).toBeDefined();
      // kubelet reports the image's repo digest: the manifest prepull pulled, not just a name.
      expect(digestOf(statusOf(pod, "main")?.imageID), form.label).toBe(form.pushed.digest);
    }
    const host = await waitForPod(
      cluster.api,
      NAMESPACE,
      "host-after",
      "running every ephemeral container",
      (pod) => forms.every((_, i) => statusOf(pod, `debug-${String(i)}`)?.state?.terminated !== undefined),
    );
    for (const [i, form] of forms.entries()) {
      const debug = statusOf(host, `debug-${String(i)}`)?.state?.terminated;
      expect(debug?.exitCode, form.label).toBe(0);
      expect(debug?.message).toBe(`ephemeral ran from ${form.image}`);
    }
  });
});
