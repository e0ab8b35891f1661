import { describe, expect, it } from "vitest";
import { InputError } from "../failure/index.ts";
import { checkLock, lockImageSet, parseImageSet, selectEntries } from "./index.ts";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const D3 = `sha256:${"3".repeat(64)}`;

const text = [
  "# The web tier.",
  "apiVersion: prepull/v1",
  "kind: ImageSet",
  "metadata:",
  "  name: web",
  "spec:",
  "  images:",
  "    # the API",
  "    - image: ghcr.io/a/api:v1",
  `      digest: ${D1} # accepted 2026-11-01`,
  "",
  "    - image: ghcr.io/a/web:2",
  `      digest: "${D1}"`,
  `    - { image: docker.io/library/nginx:1, digest: ${D1} }`,
  "    - ghcr.io/a/new:1",
  `    - redis:7@${D1}`,
  "",
].join("\n");
const entries = parseImageSet(text, "web.yaml")[0]?.entries ?? [];
const now = new Map([
  ["ghcr.io/a/api:v1", D2],
  ["ghcr.io/a/web:2", D3],
  ["docker.io/library/nginx:1", D2],
  ["ghcr.io/a/new:1", D3],
  [`redis:7@${D1}`, D2],
]);

describe("lockImageSet with update", () => {
  it("never replaces a locked digest without update", () => {
    const locked = lockImageSet(text, "web.yaml", now);
    expect(locked.changed).toEqual([{ image: "ghcr.io/a/new:1", digest: D3 }]);
    expect(locked.text).toContain(`    - image: ghcr.io/a/new:1\n      digest: ${D3}\n`);
    expect(locked.text).toContain(`digest: ${D1} # accepted`);
  });

  it("accepts every new digest, keeping comments, quotes and layout", () => {
    const updated = lockImageSet(text, "web.yaml", now, { update: () => true });
    expect(updated.text).toBe(
      text
        .replace(`${D1} # accepted`, `${D2} # accepted`)
        .replace(`"${D1}"`, `"${D3}"`)
        .replace(`nginx:1, digest: ${D1}`, `nginx:1, digest: ${D2}`)
        .replace("    - ghcr.io/a/new:1", `    - image: ghcr.io/a/new:1\n      digest: ${D3}`),
    );
    expect(updated.changed).toEqual([
      { image: "ghcr.io/a/api:v1", digest: D2, previous: D1 },
      { image: "ghcr.io/a/web:2", digest: D3, previous: D1 },
      { image: "docker.io/library/nginx:1", digest: D2, previous: D1 },
      { image: "ghcr.io/a/new:1", digest: D3 },
    ]);
    // The image that carries its own digest is what pods run: never rewritten.
    expect(updated.text).toContain(`    - redis:7@${D1}\n`);
    expect(lockImageSet(updated.text, "web.yaml", now, { update: () => true }).changed).toEqual([]);
  });

  it("accepts only the entries selected", () => {
    const update = selectEntries(entries, ["nginx:1"], "web.yaml");
    const updated = lockImageSet(text, "web.yaml", now, { update });
    expect(updated.changed.map((c) => c.image)).toEqual(["docker.io/library/nginx:1", "ghcr.io/a/new:1"]);
    expect(updated.text).toContain(`digest: ${D1} # accepted`);
  });
});

describe("selectEntries", () => {
  it("matches as written, by repository and tag, or by repository alone", () => {
    const pick = (names: string[]): string[] =>
      entries.map((e) => e.image).filter(selectEntries(entries, names, "web.yaml"));
    expect(pick(["ghcr.io/a/api:v1"])).toEqual(["ghcr.io/a/api:v1"]);
    expect(pick(["nginx:1"])).toEqual(["docker.io/library/nginx:1"]);
    expect(pick(["ghcr.io/a/web", "redis"])).toEqual(["ghcr.io/a/web:2", `redis:7@${D1}`]);
  });

  it("refuses a name that matches nothing, or is no reference, as input errors", () => {
    expect(() => selectEntries(entries, ["ghcr.io/a/api:v2"], "web.yaml")).toThrow(InputError);
    expect(() => selectEntries(entries, ["ghcr.io/a/api:v2"], "web.yaml")).toThrow(
      "ghcr.io/a/api:v2: no entry of web.yaml names this image",
    );
    let error: unknown;
    try {
      selectEntries(entries, ["Not/Valid"], "web.yaml");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ reference: "Not/Valid" });
    expect((error as Error).message).toMatch(/^Not\/Valid: invalid image reference: /);
  });
});

describe("checkLock", () => {
  it("fails on drift and on unlocked entries unless they are allowed", () => {
    const locked = entries.filter((e) => e.digest !== undefined);
    const same = new Map(locked.map((e) => [e.image, e.digest ?? ""]));
    expect(checkLock(locked, same)).toEqual({ drift: [], unlocked: [], passed: true });
    expect(checkLock(entries, same)).toEqual({ drift: [], unlocked: ["ghcr.io/a/new:1"], passed: false });
    expect(checkLock(entries, same, { allowUnlocked: true }).passed).toBe(true);
    const moved = new Map([...same, ["ghcr.io/a/api:v1", D2]]);
    expect(checkLock(entries, moved, { allowUnlocked: true })).toEqual({
      drift: [{ image: "ghcr.io/a/api:v1", locked: D1, current: D2 }],
      unlocked: ["ghcr.io/a/new:1"],
      passed: false,
    });
  });
});
