import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createContainerdClient,
  probeContainerd,
  UnsupportedApiError,
  type ContainerdApi,
} from "../../src/containerd/index.ts";
import { createCriClient } from "../../src/cri/index.ts";
import {
  applyPinPlan,
  OWNER_LABEL,
  PIN_LABEL,
  planPins,
  readPinInventory,
  syncPins,
  type PinEntry,
  type PinPlan,
} from "../../src/pins/index.ts";
import type { ImageRuntime, RuntimeImage } from "../../src/warm/index.ts";
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
let cri: ImageRuntime;
let api: ContainerdApi;
let pinsWork: boolean;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  cri = createCriClient({ endpoint: containerd.endpoint });
  api = createContainerdClient({ endpoint: containerd.endpoint });
  const { major, minor } = containerd.runtime;
  pinsWork = major > 1 || minor >= 7;
});

afterAll(async () => {
  cri.close();
  api.close();
  await Promise.all([containerd.stop(), registry.stop()]);
});

/** Pushes and pulls `repo:v1` and `repo@digest`, the two names pods use. */
async function warmImage(repository: string): Promise<{ pushed: PushedImage; entry: PinEntry }> {
  const pushed = await pushImage(registry, {
    repository,
    tag: "v1",
    layers: [{ size: 2048, seed: repository }],
  });
  const names = [`${registry.host}/${repository}:v1`, `${registry.host}/${repository}@${pushed.digest}`];
  for (const name of names) await cri.pullImage(name);
  const image = await cri.imageStatus(names[0] ?? "");
  return {
    pushed,
    entry: { image: names[0] ?? "", names, imageId: image?.id, size: image?.size, pin: true },
  };
}

async function criImage(id: string): Promise<RuntimeImage | undefined> {
  return (await cri.listImages()).find((image) => image.id === id);
}

/** CRI learns about label changes from containerd's events, a moment after the update. */
async function criPinned(id: string, expected: boolean): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    if ((await criImage(id))?.pinned === expected) return expected;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !expected;
}

async function labelsOf(name: string): Promise<Record<string, string>> {
  return { ...(await api.getImage(name))?.labels };
}

async function pinPass(entries: PinEntry[]): Promise<PinPlan> {
  const { plan, outcome } = await syncPins(api, await cri.listImages(), entries, Number.POSITIVE_INFINITY);
  expect(outcome.failed).toEqual([]);
  expect(outcome.skipped).toEqual([]);
  return plan;
}

describe(`containerd's own API on ${process.env.PREPULL_TEST_RUNTIME ?? "containerd-2"}`, () => {
  it("probes the version, and pinning where the runtime honours the label", async () => {
    const capabilities = await probeContainerd(api, { criRuntimeName: (await cri.version()).runtimeName });
    expect(capabilities.version).toContain(`${containerd.runtime.major}.${containerd.runtime.minor}.`);
    expect(capabilities.progress).toEqual({ available: true });
    if (pinsWork) {
      expect(capabilities.pinning).toEqual({ available: true });
    } else {
      expect(capabilities.pinning).toMatchObject({ available: false });
      expect(JSON.stringify(capabilities.pinning)).toMatch(/1\.7 or later/);
    }
  });

  it("pins the names pods use, marked as prepull's; CRI reports the image pinned where the runtime honours it", async () => {
    const { entry } = await warmImage("pins/api");
    const plan = await pinPass([entry]);
    expect(plan.pin).toEqual([...entry.names]);
    for (const name of entry.names) {
      expect(await labelsOf(name)).toMatchObject({ [PIN_LABEL]: "pinned", [OWNER_LABEL]: "true" });
    }
    expect(await labelsOf(entry.imageId ?? "")).not.toHaveProperty(PIN_LABEL);
    expect(await criPinned(entry.imageId ?? "", pinsWork)).toBe(pinsWork);

    // A pull of a name that exists replaces its record, labels included, in the runtimes' pull
    // paths (2.x's transfer store, 1.7's and 1.6's client): the pin on that name is lost, the
    // image stays pinned through its other name, and the next pass pins the name again.
    const [byTag, byDigest] = entry.names;
    await cri.pullImage(byTag ?? "");
    expect(await labelsOf(byTag ?? "")).toEqual({ "io.cri-containerd.image": "managed" });
    expect(await labelsOf(byDigest ?? "")).toMatchObject({ [PIN_LABEL]: "pinned", [OWNER_LABEL]: "true" });
    expect(await criPinned(entry.imageId ?? "", pinsWork)).toBe(pinsWork);
    const repaired = await pinPass([entry]);
    expect(repaired.pin).toEqual([byTag]);
    expect(await labelsOf(byTag ?? "")).toMatchObject({ [PIN_LABEL]: "pinned", [OWNER_LABEL]: "true" });
  });

  it("unpins only what prepull pinned: an image pinned by hand keeps its pin", async () => {
    const ours = await warmImage("pins/ours");
    const byHand = await warmImage("pins/by-hand");
    await pinPass([ours.entry]);
    const handName = byHand.entry.names[0] ?? "";
    await containerd.ctr(["images", "label", handName, `${PIN_LABEL}=pinned`]);

    // Both leave the set: prepull removes its own pins and nothing else.
    const plan = await pinPass([]);
    expect(plan.unpin).toEqual(expect.arrayContaining([...ours.entry.names]));
    expect(plan.unpin).not.toContain(handName);
    for (const name of ours.entry.names) {
      const labels = await labelsOf(name);
      expect(labels).not.toHaveProperty(PIN_LABEL);
      expect(labels).not.toHaveProperty(OWNER_LABEL);
    }
    expect(await labelsOf(handName)).toEqual(expect.objectContaining({ [PIN_LABEL]: "pinned" }));
    expect(await criPinned(ours.entry.imageId ?? "", false)).toBe(false);
    expect(await criPinned(byHand.entry.imageId ?? "", pinsWork)).toBe(pinsWork);

    // Back in the set, the hand-pinned image is reported pinned and left untouched.
    const again = await pinPass([byHand.entry]);
    expect(again.entries).toEqual([{ image: byHand.entry.image, pinned: true, reason: "pinned-elsewhere" }]);
    expect(again.pin).toEqual([]);
    expect(await labelsOf(handName)).not.toHaveProperty(OWNER_LABEL);
  });

  it("the ctr commands docs/pinning.md gives find and remove every pin prepull set, and only those", async () => {
    const ours = await warmImage("pins/ctr-ours");
    const byHand = await warmImage("pins/ctr-by-hand");
    await pinPass([ours.entry]);
    const handName = byHand.entry.names[0] ?? "";
    await containerd.ctr(["images", "label", handName, `${PIN_LABEL}=pinned`]);

    const listed = (await containerd.ctr(["images", "ls", "-q", `labels."${OWNER_LABEL}"`]))
      .split("\n")
      .filter(Boolean);
    expect(listed).toEqual(expect.arrayContaining([...ours.entry.names]));
    expect(listed).not.toContain(handName);
    for (const name of listed)
      await containerd.ctr(["images", "label", name, `${PIN_LABEL}=`, `${OWNER_LABEL}=`]);

    for (const name of ours.entry.names)
      expect(await labelsOf(name)).toEqual({ "io.cri-containerd.image": "managed" });
    expect(await labelsOf(handName)).toMatchObject({ [PIN_LABEL]: "pinned" });
    expect(await criPinned(ours.entry.imageId ?? "", false)).toBe(false);
  });

  it("re-reads each record before changing it: a name pinned by hand or removed since the plan is left alone", async () => {
    const { entry } = await warmImage("pins/race");
    const [byTag, byDigest] = entry.names;
    const plan = planPins(
      [entry],
      await readPinInventory(api, await cri.listImages()),
      Number.POSITIVE_INFINITY,
    );
    expect(plan.pin).toEqual([byTag, byDigest]);

    await containerd.ctr(["images", "label", byTag ?? "", `${PIN_LABEL}=pinned`]);
    await containerd.ctr(["images", "rm", byDigest ?? ""]);
    const outcome = await applyPinPlan(api, plan);
    expect(outcome.pinned).toEqual([]);
    expect(outcome.skipped).toEqual([
      { name: byTag, reason: "pinned by someone else" },
      { name: byDigest, reason: "no image has this name any more" },
    ]);
    expect(await labelsOf(byTag ?? "")).not.toHaveProperty(OWNER_LABEL);
  });

  it("reports an absent name as absent, and an update of a name removed meanwhile as not_found", async () => {
    expect(await api.getImage(`${registry.host}/pins/none:v1`)).toBeUndefined();
    const { entry } = await warmImage("pins/removed");
    const record = await api.getImage(entry.names[0] ?? "");
    expect(record?.target.digest).toMatch(/^sha256:/);
    await cri.removeImage(entry.names[0] ?? "");
    if (record === undefined) return;
    await expect(api.updateImageLabels(record, { [PIN_LABEL]: "pinned" })).rejects.toMatchObject({
      kind: "not_found",
    });
  });

  it("classifies a socket that never answers as a timeout, and a missing one as unavailable", async () => {
    const path = join(containerd.root, "silent.sock");
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(path, resolve));
    const hanging = createContainerdClient({ endpoint: `unix://${path}`, callTimeoutMs: 300 });
    const missing = createContainerdClient({ endpoint: `unix://${path}.absent` });
    try {
      await expect(hanging.version()).rejects.toMatchObject({ kind: "timeout" });
      await expect(missing.listIngests()).rejects.toMatchObject({ kind: "unavailable" });
      const capabilities = await probeContainerd(missing);
      expect(capabilities.pinning).toMatchObject({ available: false });
      expect(JSON.stringify(capabilities.pinning)).toMatch(/unavailable/);
    } finally {
      hanging.close();
      missing.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("reports pinning unavailable, with the reason, where the socket answers gRPC but not containerd's API, as CRI-O's does", async () => {
    const path = join(containerd.root, "cri-only.sock");
    const server = new grpc.Server();
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (error) => {
        if (error === null) resolve();
        else reject(error);
      });
    });
    const other = createContainerdClient({ endpoint: `unix://${path}` });
    try {
      await expect(other.version()).rejects.toBeInstanceOf(UnsupportedApiError);
      const capabilities = await probeContainerd(other);
      expect(capabilities.version).toBeUndefined();
      expect(JSON.stringify(capabilities.pinning)).toMatch(/does not serve containerd's API/);
      expect(capabilities.progress).toMatchObject({ available: false });

      const crio = await probeContainerd(other, { criRuntimeName: "cri-o" });
      expect(JSON.stringify(crio.pinning)).toMatch(/CRI-O pins through pinned_images/);
    } finally {
      other.close();
      server.forceShutdown();
    }
  });
});
