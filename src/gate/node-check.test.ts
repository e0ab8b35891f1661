import { describe, expect, it } from "vitest";
import { desiredStateFromImages } from "../imageset/index.ts";
import { ImageInventory, type RuntimeImage } from "../warm/index.ts";
import { checkNode } from "./node-check.ts";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;

function image(repoTags: string[], repoDigests: string[]): RuntimeImage {
  return { id: `sha256:${"c".repeat(64)}`, repoTags, repoDigests, size: 10, pinned: false };
}

describe("checkNode", () => {
  it("is warm, and the gate would open, when every entry is present", () => {
    const { entries } = desiredStateFromImages([`reg.example/app:1@${D1}`]);
    const inventory = new ImageInventory([image(["reg.example/app:1"], [`reg.example/app@${D1}`])]);
    const check = checkNode(entries, inventory);
    expect(check.warm).toBe(true);
    expect(check.gate.open).toBe(true);
    expect(check.entries).toEqual([
      { image: `reg.example/app:1@${D1}`, state: "present", digest: D1, localDigest: D1 },
    ]);
  });

  it("names what each entry lacks, and the gate stays closed on a drifted tag", () => {
    const { entries } = desiredStateFromImages([`reg.example/app:1@${D1}`, `reg.example/tool:2@${D2}`]);
    const inventory = new ImageInventory([
      image([], [`reg.example/app@${D1}`]),
      image(["reg.example/app:1"], [`reg.example/app@${D2}`]),
    ]);
    const check = checkNode(entries, inventory);
    expect(check.warm).toBe(false);
    expect(check.entries.map((entry) => entry.state)).toEqual(["drifted", "missing,drifted"]);
    expect(check.gate.open).toBe(false);
    expect(check.gate.message).toContain(`reg.example/app:1@${D1} drifted`);
  });

  it("leaves entries out of the gate that no set gates", () => {
    const base = desiredStateFromImages([`reg.example/app:1@${D1}`]);
    const entries = base.entries.map((entry) => ({ ...entry, gate: false as const }));
    const check = checkNode(entries, new ImageInventory([]));
    expect(check.warm).toBe(false);
    expect(check.gate).toMatchObject({ open: true, reason: "NothingGated" });
  });
});
