import { describe, expect, it } from "vitest";
import type { RuntimeImage } from "../warm/index.ts";
import type { PinEntry } from "./plan.ts";
import { pinInputsDigest } from "./inputs-digest.ts";

const image = (id: string, overrides: Partial<RuntimeImage> = {}): RuntimeImage => ({
  id,
  repoTags: [`r.example/${id}:1`, `r.example/${id}:2`],
  repoDigests: [`r.example/${id}@sha256:${id.padEnd(64, "0")}`],
  size: 100,
  pinned: true,
  ...overrides,
});

const entry = (key: string, overrides: Partial<PinEntry> = {}) => ({
  key,
  entry: {
    image: key,
    names: [`${key}:1`, `${key}@sha256:${"a".repeat(64)}`],
    imageId: `sha256:${key}`,
    size: 100,
    pin: true,
    ...overrides,
  },
});

const images = [image("a"), image("b"), image("c")];
const entries = [entry("a"), entry("b")];
const base = pinInputsDigest(images, entries, 1000);

describe("pinInputsDigest", () => {
  it("is the same for the same inputs in any order, names in any order", () => {
    const reordered = [image("c"), image("b", { repoTags: ["r.example/b:2", "r.example/b:1"] }), image("a")];
    expect(pinInputsDigest(reordered, [entry("b"), entry("a")], 1000)).toBe(base);
  });

  it.each([
    [
      "a pin dropped behind prepull's back",
      [image("a", { pinned: false }), image("b"), image("c")],
      entries,
      1000,
    ],
    ["an image gone", [image("a"), image("b")], entries, 1000],
    [
      "a name added to an image",
      [image("a", { repoTags: ["r.example/a:1"] }), image("b"), image("c")],
      entries,
      1000,
    ],
    ["an image's size", [image("a", { size: 101 }), image("b"), image("c")], entries, 1000],
    ["an entry opting out", images, [entry("a", { pin: false }), entry("b")], 1000],
    ["an entry's image", images, [entry("a", { imageId: "sha256:c" }), entry("b")], 1000],
    ["an entry leaving", images, [entry("a")], 1000],
    ["the budget", images, entries, 999],
  ] as const)("changes with %s", (_, changedImages, changedEntries, budget) => {
    expect(pinInputsDigest(changedImages, changedEntries, budget)).not.toBe(base);
  });
});
