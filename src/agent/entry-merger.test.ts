import { describe, expect, it } from "vitest";
import type { EntryStatus } from "../warm/index.ts";
import { entryMerger } from "./entry-merger.ts";

const status: EntryStatus = {
  image: "nginx:1",
  digest: null,
  state: "present",
  imageId: `sha256:${"1".repeat(64)}`,
  size: 1234,
  attempts: 0,
  lastPullSeconds: null,
  errorKind: null,
  message: null,
  nextRetryAt: null,
  registryDigest: null,
  source: null,
};

describe("the agent's entry merger", () => {
  it("merges an entry's pin and progress into its status, the same object while none changed", () => {
    const merge = entryMerger();
    const pinned = { pinned: true, pinReason: "pinned" };
    const progress = { doneBytes: 1, totalBytes: 2 };
    const first = merge(status, pinned, progress);
    expect(first).toEqual({ ...status, pinned: true, pinReason: "pinned", progress });
    expect(merge(status, pinned, progress)).toBe(first);
    expect(merge(status, { pinned: false, pinReason: "budget" }, progress)).not.toBe(first);
    expect(merge(status, pinned, { doneBytes: 2, totalBytes: 2 })).not.toBe(first);
    expect(merge({ ...status }, pinned, null)).not.toBe(first);
  });
});
