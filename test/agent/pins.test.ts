import { execFile } from "node:child_process";
import { mkdtemp, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createContainerdClient, type ContainerdApi } from "../../src/containerd/index.ts";
import { OWNER_LABEL, PIN_LABEL } from "../../src/pins/index.ts";
import { createCriClient } from "../../src/cri/index.ts";
import type { AgentStatus } from "../../src/http/index.ts";
import type { ImageRuntime } from "../../src/warm/index.ts";
import {
  pushImage,
  startContainerd,
  startThrottledBlobProxy,
  startRegistry,
  type ContainerdInstance,
  type PushedImage,
  type RegistryInstance,
} from "../sandbox/index.ts";
import { startAgentProcess, type AgentProcess } from "./agent-process.ts";
import { ConfigMapVolume } from "./config-map.ts";

const run = promisify(execFile);

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let cri: ImageRuntime;
let api: ContainerdApi;
/** containerd 1.7 and later honour the pin label; 1.6 stores it and ignores it. */
let pinsWork: boolean;
const running: AgentProcess[] = [];
const volumes: ConfigMapVolume[] = [];

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  cri = createCriClient({ endpoint: containerd.endpoint });
  api = createContainerdClient({ endpoint: containerd.endpoint });
  const { major, minor } = containerd.runtime;
  pinsWork = major > 1 || minor >= 7;
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop("SIGKILL")));
  await Promise.all(volumes.splice(0).map((volume) => volume.remove()));
});

afterAll(async () => {
  cri.close();
  api.close();
  await Promise.all([containerd.stop(), registry.stop()]);
});

interface Entry {
  readonly image: PushedImage;
  readonly pin?: false;
}

function setYaml(entries: readonly Entry[]): string {
  const lines = entries.map(
    ({ image, pin }) =>
      `    - image: ${image.reference}\n      digest: ${image.digest}${pin === false ? "\n      pin: false" : ""}`,
  );
  return [
    "apiVersion: prepull/v1",
    "kind: ImageSet",
    "metadata:",
    "  name: pins",
    "spec:",
    lines.length === 0 ? "  images: []" : "  images:",
    ...lines,
    "",
  ].join("\n");
}

async function startAgent(volume: ConfigMapVolume, args: string[] = []): Promise<AgentProcess> {
  const agent = await startAgentProcess([
    "--config",
    volume.dir,
    "--runtime-endpoint",
    containerd.endpoint,
    "--resync",
    "1s",
    "--node-name",
    "node-a",
    ...args,
  ]);
  running.push(agent);
  return agent;
}

async function agentFor(entries: readonly Entry[], args: string[] = []) {
  const volume = await ConfigMapVolume.create({ "set.yaml": setYaml(entries) });
  volumes.push(volume);
  return { agent: await startAgent(volume, args), volume };
}

async function image(repository: string, size = 2048): Promise<PushedImage> {
  return pushImage(registry, { repository, tag: "1", layers: [{ size, seed: repository }] });
}

/** The names pods use for an entry: `N:T` and `N@D`. */
function namesOf(pushed: PushedImage): string[] {
  return [`${pushed.repository}:1`, `${pushed.repository}@${pushed.digest}`];
}

async function labelsOf(name: string): Promise<Record<string, string>> {
  return { ...(await api.getImage(name))?.labels };
}

/** CRI learns of label changes from containerd's events, a moment after they are made. */
async function criPinned(pushed: PushedImage, expected: boolean): Promise<boolean | undefined> {
  let last: boolean | undefined;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    last = (await cri.listImages()).find((found) => found.id === pushed.configDigest)?.pinned;
    if (last === expected) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return last;
}

const entryOf = (status: AgentStatus, pushed: PushedImage) =>
  status.entries.find((entry) => entry.image === pushed.reference);

/** Warm, the runtime probed, and every present entry's pin decided by a pin pass. */
const pinsSettled = (status: AgentStatus): boolean =>
  status.warm &&
  status.pins.reason !== "the runtime has not been asked yet" &&
  (!status.pins.available || status.entries.every((entry) => entry.pinned !== null));

const sizeOf = (status: AgentStatus, ...images: PushedImage[]): number =>
  images.reduce((sum, pushed) => sum + (entryOf(status, pushed)?.size ?? Number.NaN), 0);

const OURS = { "io.cri-containerd.image": "managed", [PIN_LABEL]: "pinned", [OWNER_LABEL]: "true" };

describe(
  `pinning by the agent on ${process.env.PREPULL_TEST_RUNTIME ?? "containerd-2"}`,
  { timeout: 120_000 },
  () => {
    it("pins every entry it keeps warm where the runtime can, and says why not where it cannot", async () => {
      const [a, b] = await Promise.all([image("agent-pins/a"), image("agent-pins/b")]);
      const { agent } = await agentFor([{ image: a }, { image: b }]);
      const status = await agent.waitFor(pinsSettled, "warm with pins decided");
      expect(status.summary.present).toBe(2);
      if (pinsWork) {
        expect(status.pins).toMatchObject({ available: true, reason: null, count: 2 });
        expect(status.pins.bytes).toBe(sizeOf(status, a, b));
        expect(status.pins.budgetBytes).toBeGreaterThan(0);
        for (const pushed of [a, b]) {
          expect(entryOf(status, pushed)).toMatchObject({ pinned: true, pinReason: "pinned" });
          expect(await criPinned(pushed, true)).toBe(true);
          for (const name of namesOf(pushed)) expect(await labelsOf(name)).toEqual(OURS);
        }
        const metrics = (await agent.get("/metrics")).body;
        expect(metrics).toContain("prepull_pinned_images 2");
        expect(metrics).toContain(`prepull_pinned_bytes ${sizeOf(status, a, b)}`);
        expect(metrics).toMatch(/prepull_pin_budget_bytes [1-9]\d*/);
      } else {
        expect(status.pins).toMatchObject({ available: false, count: 0, bytes: 0, budgetBytes: null });
        expect(status.pins.reason).toMatch(/ignores the io\.cri-containerd\.pinned label.*1\.7 or later/);
        for (const pushed of [a, b]) {
          expect(entryOf(status, pushed)).toMatchObject({ state: "present", pinned: null, pinReason: null });
          for (const name of namesOf(pushed)) expect(await labelsOf(name)).not.toHaveProperty(OWNER_LABEL);
        }
      }
    });

    it("unpins an entry that leaves the set and keeps its image; a pin set by hand survives entering and leaving", async () => {
      const [kept, leaving, byHand] = await Promise.all([
        image("agent-pins/kept"),
        image("agent-pins/leaving"),
        image("agent-pins/by-hand"),
      ]);
      for (const name of namesOf(byHand)) await cri.pullImage(name);
      const handName = namesOf(byHand)[0] ?? "";
      await containerd.ctr(["images", "label", handName, `${PIN_LABEL}=pinned`]);
      const handLabels = await labelsOf(handName);

      const { agent, volume } = await agentFor([{ image: kept }, { image: leaving }, { image: byHand }]);
      const first = await agent.waitFor(pinsSettled, "warm with pins decided");
      if (pinsWork) {
        expect(entryOf(first, leaving)).toMatchObject({ pinned: true, pinReason: "pinned" });
        expect(entryOf(first, byHand)).toMatchObject({ pinned: true, pinReason: "pinned-elsewhere" });
        expect(first.pins.count).toBe(2);
      }
      expect(await labelsOf(handName)).toEqual(handLabels);

      await volume.update({ "set.yaml": setYaml([{ image: kept }]) });
      const second = await agent.waitFor(
        (s) => pinsSettled(s) && s.entries.length === 1 && (!s.pins.available || s.pins.count === 1),
        "the set shrunk and pins passed",
      );
      expect(second.entries.map((entry) => entry.image)).toEqual([kept.reference]);
      for (const name of namesOf(leaving)) {
        const labels = await labelsOf(name);
        expect(labels).toHaveProperty("io.cri-containerd.image", "managed");
        expect(labels).not.toHaveProperty(PIN_LABEL);
        expect(labels).not.toHaveProperty(OWNER_LABEL);
      }
      expect(await criPinned(leaving, false)).toBe(false);
      expect(await labelsOf(handName)).toEqual(handLabels);
      expect(await criPinned(byHand, pinsWork)).toBe(pinsWork);
      if (pinsWork) for (const name of namesOf(kept)) expect(await labelsOf(name)).toEqual(OURS);
    });

    it("at rest reads no pin records, and restores a pin a later pull dropped at the next pass", async () => {
      const a = await image("agent-pins/at-rest");
      const { agent } = await agentFor([{ image: a }]);
      await agent.waitFor(pinsSettled, "warm with pins decided");
      if (!pinsWork) {
        expect((await agent.get("/metrics")).body).not.toMatch(/prepull_pin_passes_total\{result="full"\}/);
        return;
      }
      const passes = async (result: string): Promise<number> => {
        const line = new RegExp(`prepull_pin_passes_total\\{result="${result}"\\} (\\d+)`);
        return Number(line.exec((await agent.get("/metrics")).body)?.[1] ?? 0);
      };
      const restingSince = await passes("full");
      for (let waited = 0; (await passes("unchanged")) < 3 && waited < 100; waited += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await passes("unchanged")).toBeGreaterThanOrEqual(3);
      // At most the one full pass that settled after CRI saw the new labels.
      expect((await passes("full")) - restingSince).toBeLessThanOrEqual(1);

      // A pull of the same names (kubelet's `Always`, or a hand pull) rewrites the records without labels.
      const fullBefore = await passes("full");
      // Only a change of the pin inputs (CRI's `pinned` here) makes the next pin pass a full one.
      for (const name of namesOf(a)) await cri.pullImage(name);
      for (let waited = 0; (await passes("full")) === fullBefore && waited < 100; waited += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await passes("full")).toBeGreaterThan(fullBefore);
      expect(await criPinned(a, true)).toBe(true);
      for (const name of namesOf(a)) expect(await labelsOf(name)).toEqual(OURS);
    });

    it("pins once the warm's pulls have ended, not while they run", async () => {
      const [fast, slow] = await Promise.all([
        image("agent-pins/during-fast"),
        image("agent-pins/during-slow", 5 * 1024 * 1024),
      ]);
      // The slow image's blobs at 1 MiB/s: its pull runs for about five seconds.
      const proxy = await startThrottledBlobProxy(registry, 1024 * 1024);
      try {
        const repository = slow.repository.replace(registry.host, proxy.host);
        const throttled = { ...slow, repository, reference: `${repository}:1` };
        const { agent } = await agentFor([{ image: fast }, { image: throttled }]);
        const pulling = await agent.waitFor(
          (s) => entryOf(s, fast)?.state === "present" && entryOf(s, throttled)?.state === "pulling",
          "the fast entry present while the slow one pulls",
        );
        // Passes every second settle meanwhile; none of them may start a pin pass.
        const later = await agent.waitFor(
          (s) =>
            s.lastPass !== null &&
            s.lastPass.at > (pulling.lastPass?.at ?? "") &&
            entryOf(s, throttled)?.state === "pulling",
          "another pass while the slow entry pulls",
        );
        expect(entryOf(later, fast)).toMatchObject({ pinned: null });
        for (const name of namesOf(fast)) expect(await labelsOf(name)).not.toHaveProperty(PIN_LABEL);

        const settled = await agent.waitFor(pinsSettled, "warm with pins decided", 60_000);
        if (pinsWork) {
          expect(entryOf(settled, fast)).toMatchObject({ pinned: true, pinReason: "pinned" });
          expect(entryOf(settled, throttled)).toMatchObject({ pinned: true, pinReason: "pinned" });
          for (const name of namesOf(fast)) expect(await labelsOf(name)).toEqual(OURS);
        }
      } finally {
        await proxy.close();
      }
    });

    it("respects pin: false, and keeps the entry warm", async () => {
      const [pinned, optedOut] = await Promise.all([
        image("agent-pins/pinned"),
        image("agent-pins/opted-out"),
      ]);
      const { agent } = await agentFor([{ image: pinned }, { image: optedOut, pin: false }]);
      const status = await agent.waitFor(pinsSettled, "warm with pins decided");
      expect(entryOf(status, optedOut)?.state).toBe("present");
      for (const name of namesOf(optedOut)) expect(await labelsOf(name)).not.toHaveProperty(PIN_LABEL);
      expect(await criPinned(optedOut, false)).toBe(false);
      if (pinsWork) {
        expect(entryOf(status, optedOut)).toMatchObject({ pinned: false, pinReason: "opted-out" });
        expect(entryOf(status, pinned)).toMatchObject({ pinned: true, pinReason: "pinned" });
        expect(status.pins.count).toBe(1);
      }
    });

    it("touches no label with --pin=false, and says pinning is off", async () => {
      const a = await image("agent-pins/off");
      const { agent } = await agentFor([{ image: a }], ["--pin=false"]);
      const warm = await agent.waitFor((s) => s.warm, "warm");
      // One more pass: a pin pass would have followed the one that warmed the set.
      const status = await agent.waitFor((s) => s.lastPass?.at !== warm.lastPass?.at, "a pass after warming");
      expect(status.pins).toEqual({
        available: false,
        reason: "pinning is turned off (--pin=false)",
        count: 0,
        bytes: 0,
        budgetBytes: null,
      });
      expect(entryOf(status, a)).toMatchObject({ state: "present", pinned: null, pinReason: null });
      for (const name of namesOf(a)) expect(await labelsOf(name)).not.toHaveProperty(PIN_LABEL);
    });

    it("keeps its pins across a restart: the same labels once, the same count", async () => {
      const [a, b] = await Promise.all([image("agent-pins/restart-a"), image("agent-pins/restart-b")]);
      const { agent, volume } = await agentFor([{ image: a }, { image: b }]);
      const before = await agent.waitFor(pinsSettled, "warm with pins decided");
      await agent.stop("SIGTERM");

      const again = await startAgent(volume);
      const after = await again.waitFor(
        (s) => pinsSettled(s) && s.lastPass !== null,
        "warm again with pins decided",
      );
      expect(after.pins).toEqual(before.pins);
      for (const pushed of [a, b]) {
        expect(entryOf(after, pushed)).toMatchObject({
          pinned: entryOf(before, pushed)?.pinned,
          pinReason: entryOf(before, pushed)?.pinReason,
        });
        for (const name of namesOf(pushed)) {
          const labels = await labelsOf(name);
          if (pinsWork) expect(labels).toEqual(OURS);
          else expect(labels).not.toHaveProperty(OWNER_LABEL);
        }
      }
      // Nothing needed pinning again: the restarted agent changed no pin.
      expect(again.logs.filter((line) => line.msg === "pins changed")).toEqual([]);
    });
  },
);

describe("the pin budget on a small image filesystem", { timeout: 120_000 }, () => {
  /** A 1 MiB tmpfs named as the image filesystem: the budget is a share of a size the test knows. */
  let small: string;

  beforeAll(async () => {
    small = await mkdtemp(join(tmpdir(), "prepull-pin-budget-"));
    await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]);
  });

  afterAll(async () => {
    await run("umount", [small]);
    await rmdir(small);
  });

  it("pins the entries that fit, in set order, and reports the others with reason budget", async () => {
    const [big, over, fits] = await Promise.all([
      image("agent-pins/budget-big", 100 * 1024),
      image("agent-pins/budget-over", 100 * 1024),
      image("agent-pins/budget-fits", 20 * 1024),
    ]);
    // 15% of 1 MiB is about 157 KB: the first 100 KB image fits, the second does not, the 20 KB one does.
    const { agent } = await agentFor(
      [{ image: big }, { image: over }, { image: fits }],
      ["--image-fs-path", small, "--disk-threshold", "100", "--pin-budget", "15"],
    );
    const status = await agent.waitFor(pinsSettled, "warm with pins decided");
    expect(status.summary.present).toBe(3);
    if (!pinsWork) {
      expect(status.pins.available).toBe(false);
      return;
    }
    expect(status.pins.budgetBytes).toBe(Math.floor(1024 * 1024 * 0.15));
    expect(entryOf(status, big)).toMatchObject({ pinned: true, pinReason: "pinned" });
    expect(entryOf(status, over)).toMatchObject({ state: "present", pinned: false, pinReason: "budget" });
    expect(entryOf(status, fits)).toMatchObject({ pinned: true, pinReason: "pinned" });
    expect(status.pins).toMatchObject({ count: 2, bytes: sizeOf(status, big, fits) });
    expect(await criPinned(big, true)).toBe(true);
    expect(await criPinned(over, false)).toBe(false);
    expect(await criPinned(fits, true)).toBe(true);
  });

  it("pins nothing, and says why, when the image filesystem cannot be read", async () => {
    const [a] = await Promise.all([image("agent-pins/no-fs")]);
    const { agent } = await agentFor([{ image: a }], ["--image-fs-path", join(small, "absent")]);
    const status = await agent.waitFor(pinsSettled, "warm with pins decided");
    expect(entryOf(status, a)?.state).toBe("present");
    if (!pinsWork) {
      expect(status.pins.available).toBe(false);
      return;
    }
    expect(status.pins).toMatchObject({ available: true, count: 0, bytes: 0, budgetBytes: 0 });
    expect(status.pins.reason).toMatch(
      /pinning nothing: cannot read the size of the image filesystem .*absent.*ENOENT/,
    );
    expect(entryOf(status, a)).toMatchObject({ pinned: false, pinReason: "budget" });
    for (const name of namesOf(a)) expect(await labelsOf(name)).not.toHaveProperty(PIN_LABEL);
  });
});
