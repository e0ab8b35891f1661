import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { runPrepull } from "../cli/run-prepull.ts";
import { startRegistry, type PushedImage } from "../sandbox/index.ts";
import {
  createNamespace,
  createPod,
  eventLines,
  isReady,
  podEvents,
  startCluster,
  statusOf,
  waitForPod,
  type Cluster,
} from "./harness/index.ts";

// An air gap without any registry: the images exist only in a bundle made elsewhere. prepull
// imports it into the node's containerd, and kubelet starts pods on them with Never and with
// IfNotPresent — at the locked digest, without a pull.
const NAMESPACE = "bundle-import";
let cluster: Cluster;
let work: string;
let images: { tagged: PushedImage; digested: PushedImage };

beforeAll(async () => {
  cluster = await startCluster();
  work = await mkdtemp(join(tmpdir(), "prepull-bundle-cluster-"));
  await createNamespace(cluster.api, NAMESPACE);
});

afterAll(async () => {
  await cluster.stop();
  await rm(work, { recursive: true, force: true });
});

function reportOnFailure(): void {
  onTestFailed(() => {
    process.stderr.write(`${cluster.logTails()}\n`);
  });
}

describe("a bundle imported into the node's containerd on kubelet v1.37", () => {
  it("bundles a locked set where its registry is reachable, and the registry then goes away", async () => {
    const site = await startRegistry();
    try {
      const [tagged, digested] = await Promise.all([
        cluster.pushWorkloadImage(site, "site/app", "1.0", [{ size: 200_000, seed: "site-app" }]),
        cluster.pushWorkloadImage(site, "site/tool", "build-3", [{ size: 100_000, seed: "site-tool" }]),
      ]);
      images = { tagged, digested };
      const set = join(work, "site.yaml");
      await writeFile(
        set,
        [
          "apiVersion: prepull/v1",
          "kind: ImageSet",
          "metadata:",
          "  name: site",
          "spec:",
          "  images:",
          `    - image: ${tagged.reference}`,
          `      digest: ${tagged.digest}`,
          `    - ${digested.repository}@${digested.digest}`,
          "",
        ].join("\n"),
      );
      const bundled = await runPrepull(["bundle", set, "-o", join(work, "site.tar"), "--archive"]);
      expect(bundled.stderr).toBe("");
      expect(bundled.code).toBe(0);
    } finally {
      await site.stop();
    }
  });

  it("imports the bundle offline and kubelet starts Never and IfNotPresent pods on it, pulling nothing", async () => {
    reportOnFailure();
    const { containerd } = cluster.node;
    const warmed = await runPrepull([
      "warm",
      ...["--config", join(work, "site.yaml"), "--from", join(work, "site.tar"), "--offline"],
      ...["--runtime-endpoint", containerd.endpoint, "-o", "json"],
    ]);
    expect(warmed.code).toBe(0);
    const report = JSON.parse(warmed.stdout) as { images: Array<{ source: string | null }> };
    expect(report.images.map((image) => image.source)).toEqual(["bundle", "bundle"]);

    const pods = [
      { name: "tagged-never", image: images.tagged.reference, policy: "Never", pushed: images.tagged },
      {
        name: "tagged-ifnotpresent",
        image: images.tagged.reference,
        policy: "IfNotPresent",
        pushed: images.tagged,
      },
      {
        name: "digested-ifnotpresent",
        image: `${images.digested.repository}@${images.digested.digest}`,
        policy: "IfNotPresent",
        pushed: images.digested,
      },
    ];
    await Promise.all(
      pods.map((pod) =>
        createPod(cluster.api, NAMESPACE, pod.name, {
          containers: [{ name: "main", image: pod.image, imagePullPolicy: pod.policy }],
        }),
      ),
    );
    for (const pod of pods) {
      const ready = await waitForPod(cluster.api, NAMESPACE, pod.name, "Ready", isReady);
      const imageId = statusOf(ready, "main")?.imageID ?? "";
      expect(imageId.slice(imageId.lastIndexOf("@") + 1), pod.name).toBe(pod.pushed.digest);
      const events = eventLines(await podEvents(cluster.api, NAMESPACE, pod.name));
      expect(
        events.some((line) => line.startsWith("Pulling:")),
        pod.name,
      ).toBe(false);
    }
  });
});
