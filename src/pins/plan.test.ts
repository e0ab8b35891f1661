import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseReference } from "../reference/index.ts";
import { pinNames, planPins, type PinEntry, type PinInventoryImage } from "./plan.ts";

const MB = 1024 * 1024;

type Name = "tag" | "digest";

/** The names pods use for `repo`: `reg.io/repo:v1` and `reg.io/repo@sha256:repo`. */
function namesOf(repo: string, which: readonly Name[] = ["tag", "digest"]): string[] {
  return which.map((name) => (name === "tag" ? `reg.io/${repo}:v1` : `reg.io/${repo}@sha256:${repo}`));
}

/** An image recorded under the names pods use and its id record. */
function stored(repo: string, labels: { pinned?: Name[]; owned?: Name[] } = {}): PinInventoryImage {
  const id = `sha256:${repo.padEnd(64, "0")}`;
  return {
    id,
    names: [...namesOf(repo), id],
    pinnedNames: namesOf(repo, labels.pinned ?? []),
    ownedNames: namesOf(repo, labels.owned ?? []),
  };
}

function entry(
  repo: string,
  size: number | undefined,
  options: { pin?: boolean; present?: boolean } = {},
): PinEntry {
  return {
    image: `reg.io/${repo}:v1`,
    names: namesOf(repo),
    imageId: options.present === false ? undefined : `sha256:${repo.padEnd(64, "0")}`,
    size,
    pin: options.pin ?? true,
  };
}

describe("planPins", () => {
  it("pins the names pods use, never the id record, and reports the bytes pinned", () => {
    const plan = planPins([entry("a", 5 * MB)], [stored("a")], 10 * MB);
    expect(plan.pin).toEqual(namesOf("a"));
    expect(plan.unpin).toEqual([]);
    expect(plan.entries).toEqual([{ image: "reg.io/a:v1", pinned: true, reason: "pinned" }]);
    expect(plan.pinnedBytes).toBe(5 * MB);
  });

  it("fills the budget in set order, skips what does not fit, and lets a later smaller entry in", () => {
    const plan = planPins(
      [entry("a", 6 * MB), entry("b", 6 * MB), entry("c", 3 * MB)],
      [stored("a"), stored("b"), stored("c")],
      10 * MB,
    );
    expect(plan.entries.map((e) => [e.image, e.pinned, e.reason])).toEqual([
      ["reg.io/a:v1", true, "pinned"],
      ["reg.io/b:v1", false, "budget"],
      ["reg.io/c:v1", true, "pinned"],
    ]);
    expect(plan.pin).toEqual([...namesOf("a"), ...namesOf("c")]);
    expect(plan.pinnedBytes).toBe(9 * MB);
  });

  it("removes its own pins from an entry that no longer fits a smaller budget", () => {
    const plan = planPins([entry("a", 6 * MB)], [stored("a", { pinned: ["tag"], owned: ["tag"] })], 5 * MB);
    expect(plan.unpin).toEqual(["reg.io/a:v1"]);
    expect(plan.entries[0]?.reason).toBe("budget");
  });

  it("charges an image shared by two entries once", () => {
    const twin: PinEntry = {
      ...entry("a", 6 * MB),
      image: "reg.io/a@sha256:a",
      names: ["reg.io/a@sha256:a"],
    };
    const plan = planPins([entry("a", 6 * MB), twin], [stored("a")], 6 * MB);
    expect(plan.entries.every((e) => e.pinned)).toBe(true);
    expect(plan.pinnedBytes).toBe(6 * MB);
  });

  it("keeps pins it already holds without pinning them again", () => {
    const plan = planPins([entry("a", MB)], [stored("a", { pinned: ["tag"], owned: ["tag"] })], 10 * MB);
    expect(plan.pin).toEqual(["reg.io/a@sha256:a"]);
    expect(plan.unpin).toEqual([]);
  });

  it("re-pins a name whose pin was removed but whose owner mark is left", () => {
    const plan = planPins(
      [entry("a", MB)],
      [stored("a", { pinned: ["tag"], owned: ["tag", "digest"] })],
      10 * MB,
    );
    expect(plan.pin).toEqual(["reg.io/a@sha256:a"]);
  });

  it("removes only its own pins from images that left the set, and its stale marks with them", () => {
    const plan = planPins(
      [],
      [stored("a", { pinned: ["tag"], owned: ["tag", "digest"] }), stored("b", { pinned: ["tag"] })],
      10 * MB,
    );
    expect(plan.unpin).toEqual(["reg.io/a:v1", "reg.io/a@sha256:a"]);
    expect(plan.pin).toEqual([]);
  });

  it("leaves an image pinned by someone else alone: counted as pinned, not charged, not labelled", () => {
    const plan = planPins(
      [entry("a", 8 * MB), entry("b", 8 * MB)],
      [stored("a", { pinned: ["tag"] }), stored("b")],
      10 * MB,
    );
    expect(plan.entries[0]).toEqual({ image: "reg.io/a:v1", pinned: true, reason: "pinned-elsewhere" });
    expect(plan.entries[1]).toEqual({ image: "reg.io/b:v1", pinned: true, reason: "pinned" });
    expect(plan.pin).toEqual(namesOf("b"));
    expect(plan.pinnedBytes).toBe(8 * MB);
  });

  it("honours pin: false, removing its own pins, but reports an image pinned for another reason as pinned", () => {
    const optedOut = planPins(
      [entry("a", MB, { pin: false })],
      [stored("a", { pinned: ["tag"], owned: ["tag"] })],
      10 * MB,
    );
    expect(optedOut.entries[0]).toEqual({ image: "reg.io/a:v1", pinned: false, reason: "opted-out" });
    expect(optedOut.unpin).toEqual(["reg.io/a:v1"]);

    const twin: PinEntry = { ...entry("a", MB), image: "reg.io/a@sha256:a", names: ["reg.io/a@sha256:a"] };
    const shared = planPins([entry("a", MB, { pin: false }), twin], [stored("a")], 10 * MB);
    expect(shared.entries[0]).toEqual({ image: "reg.io/a:v1", pinned: true, reason: "opted-out" });
    expect(shared.pin).toEqual(["reg.io/a@sha256:a"]);

    const byHand = planPins([entry("a", MB, { pin: false })], [stored("a", { pinned: ["tag"] })], 10 * MB);
    expect(byHand.entries[0]).toEqual({ image: "reg.io/a:v1", pinned: true, reason: "pinned-elsewhere" });
  });

  it("reports an absent entry and pins only names the image is recorded under", () => {
    const drifted = stored("a");
    const image = { ...drifted, names: drifted.names.filter((name) => !name.endsWith(":v1")) };
    const plan = planPins([entry("a", MB), entry("b", MB, { present: false })], [image], 10 * MB);
    expect(plan.pin).toEqual(["reg.io/a@sha256:a"]);
    expect(plan.entries[1]).toEqual({ image: "reg.io/b:v1", pinned: false, reason: "absent" });
  });

  it("never fits an image of unknown size in a finite budget, and rejects a bad budget", () => {
    expect(planPins([entry("a", undefined)], [stored("a")], 10 * MB).entries[0]?.reason).toBe("budget");
    expect(planPins([entry("a", undefined)], [stored("a")], Infinity).entries[0]?.reason).toBe("pinned");
    expect(() => planPins([], [], -1)).toThrow(/budget/);
    expect(() => planPins([], [], Number.NaN)).toThrow(/budget/);
  });

  it("charges an image once however many entries name it, and pins each of their names", () => {
    // One repository, thousands of tags of one image: every entry is a name of the same record.
    const id = `sha256:${"e".repeat(64)}`;
    const tags = Array.from({ length: 5_000 }, (_, i) => `reg.io/many:t${String(i)}`);
    const owned = tags.slice(0, 2_500);
    const image: PinInventoryImage = { id, names: [...tags, id], pinnedNames: owned, ownedNames: owned };
    const entries = tags.map((tag) => ({ image: tag, names: [tag], imageId: id, size: MB, pin: true }));
    const plan = planPins(entries, [image], 2 * MB);
    expect(plan.pinnedBytes).toBe(MB);
    expect(plan.pin).toEqual(tags.slice(2_500));
    expect(plan.unpin).toEqual([]);
    expect(plan.entries.every((pin) => pin.reason === "pinned")).toBe(true);
    const optedOut = planPins(
      entries.map((e, i) => ({ ...e, pin: i % 2 === 0 })),
      [image],
      2 * MB,
    );
    expect(optedOut.unpin).toEqual(owned.filter((_, i) => i % 2 === 1));
  });

  it("holds its invariants for any set, inventory and budget", () => {
    const repos = ["a", "b", "c", "d"];
    const names = fc.subarray<Name>(["tag", "digest"]);
    const arbitraryImage = fc
      .record({ repo: fc.constantFrom(...repos), pinned: names, owned: names })
      .map(({ repo, pinned, owned }) => stored(repo, { pinned, owned }));
    const arbitraryEntry = fc
      .record({ repo: fc.constantFrom(...repos), size: fc.integer({ min: 0, max: 10 }), pin: fc.boolean() })
      .map(({ repo, size, pin }) => entry(repo, size * MB, { pin }));
    fc.assert(
      fc.property(
        fc.uniqueArray(arbitraryImage, { selector: (image) => image.id }),
        fc.array(arbitraryEntry, { maxLength: 6 }),
        fc.integer({ min: 0, max: 30 }),
        (images, entries, budget) => {
          const plan = planPins(entries, images, budget * MB);
          const owned = new Set(images.flatMap((image) => image.ownedNames));
          const othersPins = new Set(
            images.flatMap((image) => image.pinnedNames.filter((name) => !image.ownedNames.includes(name))),
          );
          expect(plan.unpin.every((name) => owned.has(name))).toBe(true);
          expect(plan.pin.some((name) => othersPins.has(name))).toBe(false);
          expect(plan.pin.some((name) => plan.unpin.includes(name))).toBe(false);
          expect(plan.pinnedBytes).toBeLessThanOrEqual(budget * MB);
          expect(plan.entries).toHaveLength(entries.length);
        },
      ),
    );
  });
});

describe("pinNames", () => {
  const D = `sha256:${"d".repeat(64)}`;

  it("names the tag and the digest pods resolve, fully qualified", () => {
    expect(pinNames(parseReference("redis:7"), D)).toEqual([
      "docker.io/library/redis:7",
      `docker.io/library/redis@${D}`,
    ]);
    expect(pinNames(parseReference(`ghcr.io/a/b:v1@${D}`), D)).toEqual([
      "ghcr.io/a/b:v1",
      `ghcr.io/a/b@${D}`,
    ]);
  });

  it("uses latest for a bare name, as kubelet does, and only the digest for a digest reference", () => {
    expect(pinNames(parseReference("ghcr.io/a/b"), undefined)).toEqual(["ghcr.io/a/b:latest"]);
    expect(pinNames(parseReference(`ghcr.io/a/b@${D}`), D)).toEqual([`ghcr.io/a/b@${D}`]);
  });
});
