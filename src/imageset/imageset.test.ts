import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  desiredStateFromImages,
  findDrift,
  ImageSetError,
  loadDesiredState,
  lockImageSet,
  mergeImageSets,
  parseImageSet,
  serializeImageSet,
  watchDesiredState,
  type DesiredState,
} from "./index.ts";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const header = "apiVersion: prepull/v1\nkind: ImageSet\nmetadata:\n  name: web\nspec:\n  images:\n";

function errorOf(text: string): string {
  try {
    parseImageSet(text, "web.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(ImageSetError);
    return (error as Error).message;
  }
  throw new Error("expected an error");
}

describe("parseImageSet", () => {
  it("reads the string shorthand and the object form", () => {
    const [set] = parseImageSet(
      `${header}    - ghcr.io/a/api:v1\n    - image: ghcr.io/a/web:2\n      digest: ${D1}\n    - redis@${D2}\n`,
      "web.yaml",
    );
    expect(set?.name).toBe("web");
    expect(set?.entries.map((e) => [e.image, e.digest])).toEqual([
      ["ghcr.io/a/api:v1", undefined],
      ["ghcr.io/a/web:2", D1],
      [`redis@${D2}`, D2],
    ]);
    expect(set?.entries[1]?.sources).toEqual(["web.yaml: spec.images[1]"]);
  });

  it.each([
    [
      "apiVersion: v1\nkind: ImageSet\nmetadata: {name: a}\nspec: {images: []}\n",
      'web.yaml:1: apiVersion: expected "prepull/v1", got "v1"',
    ],
    [
      "apiVersion: prepull/v1\nkind: Set\nmetadata: {name: a}\nspec: {images: []}\n",
      'web.yaml:2: kind: expected "ImageSet", got "Set"',
    ],
    [
      "apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: Web}\nspec: {images: []}\n",
      "metadata.name: expected a lowercase DNS-1123 name",
    ],
    [
      `${header}    - image: ghcr.io/a/b:1\n      digest: sha256:abc\n`,
      'web.yaml:8: spec.images[0].digest: expected sha256:<64 hex> or sha512:<128 hex>, got "sha256:abc"',
    ],
    [
      `${header}    - image: ghcr.io/a/b:1\n      platform: arm64\n`,
      'spec.images[0]: unknown field "platform"',
    ],
    [
      `${header}    - Ghcr.io/A/B:1\n`,
      'web.yaml:7: spec.images[0]: invalid image reference "Ghcr.io/A/B:1": repository name must be lowercase',
    ],
    [
      `${header}    - image: ghcr.io/a/b:1@${D1}\n      digest: ${D2}\n`,
      `digest ${D2} contradicts the image's own ${D1}`,
    ],
    [`${header}    - 42\n`, "spec.images[0]: expected an image reference or {image, digest}"],
    [
      "apiVersion: prepull/v1\nkind: [oops\n",
      "web.yaml:3: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ],
  ])("reports %#", (text, message) => {
    expect(errorOf(text)).toContain(message);
  });

  it("accepts an empty set and several documents per file", () => {
    const sets = parseImageSet(
      `${header.replace("  images:\n", "  images: []\n")}---\n${header}    - nginx:1\n`,
      "two.yaml",
    );
    expect(sets.map((s) => s.entries.length)).toEqual([0, 1]);
  });
});

describe("merge and generation", () => {
  const parse = (text: string, file: string): DesiredState => mergeImageSets(parseImageSet(text, file));

  it("keeps the generation stable under reordering, comments and file names", () => {
    const a = parse(`${header}    - nginx:1\n    - image: ghcr.io/a/b:1\n      digest: ${D1}\n`, "a.yaml");
    const b = parse(
      `# comment\n${header}    - image: ghcr.io/a/b:1 # pinned\n      digest: ${D1}\n\n    - nginx:1\n`,
      "b.yaml",
    );
    expect(a.generation).toBe(b.generation);
    const c = parse(`${header}    - nginx:1\n    - image: ghcr.io/a/b:1\n      digest: ${D2}\n`, "a.yaml");
    expect(c.generation).not.toBe(a.generation);
  });

  it("rejects the same image at two digests, naming both places", () => {
    const one = parseImageSet(`${header}    - image: ghcr.io/a/b:1\n      digest: ${D1}\n`, "one.yaml");
    const two = parseImageSet(`${header}    - image: ghcr.io/a/b:1\n      digest: ${D2}\n`, "two.yaml");
    expect(() => mergeImageSets([...one, ...two])).toThrow(
      /one\.yaml: spec\.images\[0\].*two\.yaml: spec\.images\[0\]|two\.yaml: spec\.images\[0\].*one\.yaml/,
    );
  });

  it("deduplicates the same image declared twice", () => {
    const state = mergeImageSets([
      ...parseImageSet(`${header}    - nginx:1\n`, "a.yaml"),
      ...parseImageSet(`${header}    - nginx:1\n`, "b.yaml"),
    ]);
    expect(state.entries).toHaveLength(1);
    expect(state.entries[0]?.sources).toEqual(["a.yaml: spec.images[0]", "b.yaml: spec.images[0]"]);
  });

  it("builds the state of warm IMAGE… arguments", () => {
    expect(desiredStateFromImages(["nginx", `redis@${D1}`]).entries.map((e) => e.digest)).toEqual([
      undefined,
      D1,
    ]);
  });
});

describe("lockImageSet", () => {
  const text = [
    "# The web tier.",
    "apiVersion: prepull/v1",
    "kind: ImageSet",
    "metadata:",
    "  name: web",
    "spec:",
    "  images:",
    "    # the API",
    "    - ghcr.io/a/api:v1 # keep me",
    "",
    "    - image: ghcr.io/a/web:2",
    `    - image: ghcr.io/a/done:3`,
    `      digest: ${D1}`,
    `    - redis@${D2}`,
    "",
  ].join("\n");

  it("writes digests and changes nothing else", () => {
    const resolved = new Map([
      ["ghcr.io/a/api:v1", D1],
      ["ghcr.io/a/web:2", D2],
      ["ghcr.io/a/done:3", D2],
    ]);
    const locked = lockImageSet(text, "web.yaml", resolved);
    expect(locked.text).toBe(
      [
        "# The web tier.",
        "apiVersion: prepull/v1",
        "kind: ImageSet",
        "metadata:",
        "  name: web",
        "spec:",
        "  images:",
        "    # the API",
        "    - image: ghcr.io/a/api:v1",
        `      digest: ${D1} # keep me`,
        "",
        "    - image: ghcr.io/a/web:2",
        `      digest: ${D2}`,
        `    - image: ghcr.io/a/done:3`,
        `      digest: ${D1}`,
        `    - redis@${D2}`,
        "",
      ].join("\n"),
    );
    expect(locked.changed).toEqual([
      { image: "ghcr.io/a/api:v1", digest: D1 },
      { image: "ghcr.io/a/web:2", digest: D2 },
    ]);
    const again = lockImageSet(locked.text, "web.yaml", resolved);
    expect(again.text).toBe(locked.text);
    expect(again.changed).toEqual([]);
    expect(parseImageSet(locked.text, "web.yaml")[0]?.entries.map((e) => e.digest)).toEqual([D1, D2, D1, D2]);
  });

  it("locks flow sequences too", () => {
    const flow = header.replace("  images:\n", "  images: [nginx:1, ghcr.io/a/b:2]\n");
    const locked = lockImageSet(flow, "flow.yaml", new Map([["nginx:1", D1]]));
    expect(locked.text).toContain(`images: [{ image: nginx:1, digest: ${D1} }, ghcr.io/a/b:2]`);
  });

  it("finds drift of locked entries", () => {
    const [set] = parseImageSet(text, "web.yaml");
    expect(findDrift(set?.entries ?? [], new Map([["ghcr.io/a/done:3", D2]]))).toEqual([
      { image: "ghcr.io/a/done:3", locked: D1, current: D2 },
    ]);
  });

  it("serializes a set that parses back", () => {
    const text2 = serializeImageSet(
      "plan",
      [{ image: "nginx:1" }, { image: "ghcr.io/a/b:1", digest: D1 }],
      "generated",
    );
    expect(text2.startsWith("# generated\n")).toBe(true);
    expect(parseImageSet(text2, "plan.yaml")[0]?.entries.map((e) => e.digest)).toEqual([undefined, D1]);
  });
});

describe("loading and watching files", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("loads directories, skipping dot entries, and says when there is nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prepull-sets-"));
    dirs.push(dir);
    await writeFile(join(dir, "a.yaml"), `${header}    - nginx:1\n`);
    await writeFile(join(dir, ".hidden.yaml"), `${header}    - nginx:2\n`);
    await writeFile(join(dir, "notes.txt"), "ignored");
    const state = await loadDesiredState([dir]);
    expect(state.entries.map((e) => e.image)).toEqual(["nginx:1"]);
    const empty = await mkdtemp(join(tmpdir(), "prepull-empty-"));
    dirs.push(empty);
    await expect(loadDesiredState([empty])).rejects.toThrow(/no ImageSet files/);
    await expect(loadDesiredState([join(empty, "missing.yaml")])).rejects.toThrow(
      /missing\.yaml: no such file/,
    );
  });

  it("reports a bad new version and recovers when it is fixed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prepull-watch-"));
    dirs.push(dir);
    const file = join(dir, "set.yaml");
    await writeFile(file, `${header}    - nginx:1\n`);
    const initial = await loadDesiredState([dir]);
    const events: string[] = [];
    const watcher = watchDesiredState(
      [dir],
      {
        onChange: (state) => events.push(`change ${state.entries.length}`),
        onError: (error) => events.push(`error ${error.message}`),
        debounceMs: 20,
        pollIntervalMs: 100,
      },
      initial.generation,
    );
    try {
      await writeFile(file, `${header}    - NOT VALID\n`);
      await expect.poll(() => events.at(-1) ?? "", { timeout: 5_000 }).toContain("error");
      expect(events.at(-1)).toContain("set.yaml");
      await writeFile(file, `${header}    - nginx:1\n`);
      await expect.poll(() => events.at(-1) ?? "", { timeout: 5_000 }).toBe("change 1");
      await writeFile(file, `${header}    - nginx:1\n    - nginx:2\n`);
      await expect.poll(() => events.at(-1) ?? "", { timeout: 5_000 }).toBe("change 2");
    } finally {
      watcher.close();
    }
  });
});
