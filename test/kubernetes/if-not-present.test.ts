import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
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
  waitFor,
  waitForPod,
  type Cluster,
  type Node,
  type Pod,
} from "./harness/index.ts";

// `IfNotPresent` trusts whatever the tag points at on the node. prepull keeps the tag at the
// locked digest and reports a re-pushed tag as drift instead of following it; `lock --update`
// is how an operator accepts the move.
const NAMESPACE = "if-not-present";
let cluster: Cluster;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  dir = await mkdtemp(join(tmpdir(), "prepull-if-not-present-"));
  await createNamespace(cluster.api, NAMESPACE);
});

afterAll(async () => {
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
});

function prepull(args: readonly string[]): ReturnType<typeof runPrepull> {
  const { containerd } = cluster.node;
  return runPrepull([...args, "--runtime-endpoint", containerd.endpoint]);
}

async function writeSet(name: string, image: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  const lines = [
    "apiVersion: prepull/v1",
    "kind: ImageSet",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    "  images:",
  ];
  await writeFile(file, [...lines, `    - ${image}`, ""].join("\n"));
  expect((await runPrepull(["lock", file])).code).toBe(0);
  return file;
}

async function runPod(
  name: string,
  image: string,
): Promise<{ digest: string | undefined; events: string[] }> {
  await createPod(cluster.api, NAMESPACE, name, {
    containers: [{ name: "main", image, imagePullPolicy: "IfNotPresent" }],
  });
  const pod = await waitForPod(cluster.api, NAMESPACE, name, "Ready", isReady);
  const imageId = statusOf(pod, "main")?.imageID;
  return {
    digest: imageId?.slice(imageId.lastIndexOf("@") + 1),
    events: eventLines(await podEvents(cluster.api, NAMESPACE, name)),
  };
}

/** The names the Node's status.images gives the image with this repo digest. */
async function nodeImageNames(digest: string): Promise<string[]> {
  const node = await cluster.api.get<Node>(`/api/v1/nodes/${cluster.node.name}`);
  return (
    node.status?.images?.find((image) => image.names?.some((name) => name.endsWith(`@${digest}`)))?.names ??
    []
  );
}

describe("pull policy IfNotPresent with a re-pushed tag, on kubelet v1.37", () => {
  let v1: PushedImage;
  let moved: PushedImage;
  let setFile: string;

  it("keeps the tag at the locked digest on the node: pods run it while lock --check reports the drift", async () => {
    onTestFailed(() => {
      process.stderr.write(`${cluster.logTails()}\n`);
    });
    v1 = await cluster.pushWorkloadImage(cluster.registry, "drift/app", "v1", [
      { size: 512, seed: "first build" },
    ]);
    setFile = await writeSet("app", v1.reference);
    expect(await readFile(setFile, "utf8")).toContain(`digest: ${v1.digest}`);
    expect((await prepull(["warm", "--config", setFile])).code).toBe(0);

    moved = await cluster.pushWorkloadImage(cluster.registry, "drift/app", "v1", [
      { size: 512, seed: "second build" },
    ]);
    expect(moved.digest).not.toBe(v1.digest);
    const check = await runPrepull(["lock", "--check", "--output", "json", setFile]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(moved.digest);
    // The node already holds the tag at the locked digest: warm has nothing to do and follows nothing.
    expect((await prepull(["warm", "--config", setFile])).code).toBe(0);

    const pod = await runPod("before-update", v1.reference);
    expect(pod.digest).toBe(v1.digest);
    expect(pod.events).toContainEqual(expect.stringMatching(/^Pulled: .*already present on machine/));
  });

  it("runs the new digest in new pods after lock --update and a warm; the old pod keeps the old one", async () => {
    const updated = await runPrepull(["lock", "--update", setFile, v1.repository]);
    expect(updated.code).toBe(0);
    expect(await readFile(setFile, "utf8")).toContain(`digest: ${moved.digest}`);
    expect((await prepull(["warm", "--config", setFile])).code).toBe(0);

    const pod = await runPod("after-update", v1.reference);
    expect(pod.digest).toBe(moved.digest);
    expect(pod.events).toContainEqual(expect.stringMatching(/^Pulled: .*already present on machine/));
    const old = await cluster.api.get<Pod>(`/api/v1/namespaces/${NAMESPACE}/pods/before-update`);
    expect(statusOf(old, "main")?.imageID).toBe(`${v1.repository}@${v1.digest}`);
  });

  it("on a node that never had the tag: reports drifted, and kubelet pulls the moved tag for IfNotPresent", async () => {
    const first = await cluster.pushWorkloadImage(cluster.registry, "drift/fresh", "v1", [
      { size: 512, seed: "fresh one" },
    ]);
    const file = await writeSet("fresh", first.reference);
    const second = await cluster.pushWorkloadImage(cluster.registry, "drift/fresh", "v1", [
      { size: 512, seed: "fresh two" },
    ]);

    const warm = await prepull(["warm", "--config", file, "--output", "json"]);
    expect(warm.code).toBe(1);
    expect(warm.stdout).toContain("drifted");
    expect(warm.stdout).toContain(second.digest);

    // prepull pulled the locked digest but could not record the tag: `name:tag` is absent, so
    // kubelet pulls it itself and runs what the tag points at now.
    const byTag = await runPod("fresh-by-tag", first.reference);
    expect(byTag.digest).toBe(second.digest);
    expect(byTag.events).toContainEqual(expect.stringMatching(/^Pulling: /));
    // Pinned in the pod (`prepull pin` writes this form), the locked digest runs without a pull.
    const pinned = await runPod("fresh-pinned", `${first.reference}@${first.digest}`);
    expect(pinned.digest).toBe(first.digest);
    expect(pinned.events).toContainEqual(expect.stringMatching(/^Pulled: .*already present on machine/));
  });

  it("shows the warmed images in the Node's status.images under the names pods use", async () => {
    await waitFor("kubelet to report both images in the Node's status", async () => {
      const [current, previous] = await Promise.all([
        nodeImageNames(moved.digest),
        nodeImageNames(v1.digest),
      ]);
      return current.includes(v1.reference) && previous.length > 0;
    });
    expect(await nodeImageNames(moved.digest)).toEqual(
      expect.arrayContaining([v1.reference, `${v1.repository}@${moved.digest}`]),
    );
    // The old image lost its tag to the new one; kubelet still lists it by digest.
    const previous = await nodeImageNames(v1.digest);
    expect(previous).toContain(`${v1.repository}@${v1.digest}`);
    expect(previous).not.toContain(v1.reference);
  });
});
