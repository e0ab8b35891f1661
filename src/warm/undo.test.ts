import { describe, expect, it } from "vitest";
import type { EntryResult } from "./execute.ts";
import { ImageInventory } from "./inventory.ts";
import type { RuntimeImage } from "./ports.ts";
import { undoOverfill } from "./undo.ts";

const name = "registry.example/app@sha256:" + "a".repeat(64);
const image = (id: string): RuntimeImage => ({
  id,
  repoTags: [],
  repoDigests: [name],
  size: 1,
  pinned: false,
});

const stoppedPull: EntryResult = {
  image: name,
  outcome: "failed",
  digest: undefined,
  imageId: undefined,
  size: undefined,
  seconds: 1,
  pulls: [name],
  errorKind: "disk",
  message: "stopped",
  registryDigest: undefined,
  source: undefined,
};

/**
 * A runtime that records the stopped pull's image only after `lateBy` status questions: the
 * cancel reached it after the unpack ended, which a real runtime does not do on demand.
 */
function lateRecordingRuntime(lateBy: number, id = "sha256:new") {
  let asked = 0;
  const removed: string[] = [];
  return {
    removed,
    imageStatus: (): Promise<RuntimeImage | undefined> => {
      asked += 1;
      return Promise.resolve(asked > lateBy && removed.length === 0 ? image(id) : undefined);
    },
    removeImage: (id: string): Promise<void> => {
      removed.push(id);
      return Promise.resolve();
    },
  };
}

const overfill = { message: "image filesystem /var reached 95.0%", stopped: true };

describe("undoOverfill after a stopped pull", () => {
  it("removes an image the runtime records after the cancel, within the rechecks", async () => {
    const runtime = lateRecordingRuntime(2);
    const result = await undoOverfill(stoppedPull, overfill, new ImageInventory([]), runtime, [1, 1, 1]);
    expect(runtime.removed).toEqual(["sha256:new"]);
    expect(result).toMatchObject({ outcome: "blocked", errorKind: "disk" });
    expect(result.message).toBe(`${overfill.message}; the pull was stopped and its image removed`);
  });

  it("calls the pull gone when nothing appears by the last recheck", async () => {
    const runtime = lateRecordingRuntime(5);
    const result = await undoOverfill(stoppedPull, overfill, new ImageInventory([]), runtime, [1, 1, 1]);
    expect(runtime.removed).toEqual([]);
    expect(result.message).toBe(`${overfill.message}; the pull was stopped`);
  });

  it("keeps an image the node had before the pull", async () => {
    const runtime = lateRecordingRuntime(1, "sha256:old");
    const inventory = new ImageInventory([image("sha256:old")]);
    const result = await undoOverfill(stoppedPull, overfill, inventory, runtime, [1, 1]);
    expect(runtime.removed).toEqual([]);
    expect(result.outcome).toBe("blocked");
  });

  it("does not wait when the pull ran to its end: what it recorded is there already", async () => {
    const runtime = lateRecordingRuntime(1);
    const ended = { ...overfill, stopped: false };
    const pulled = { ...stoppedPull, outcome: "pulled" as const, errorKind: undefined, message: undefined };
    const result = await undoOverfill(pulled, ended, new ImageInventory([]), runtime, [1, 1]);
    expect(runtime.removed).toEqual([]);
    expect(result).toMatchObject({ outcome: "pulled" });
  });
});
