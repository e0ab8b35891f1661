import { describe, expect, it } from "vitest";
import { ImageSetError, mergeImageSets, parseImageSet, type ImageSetDocument } from "./index.ts";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const header = "apiVersion: prepull/v1\nkind: ImageSet\nmetadata:\n  name: web\nspec:\n  images:\n";

describe("merging duplicates", () => {
  // 38,000 duplicate lines once took seconds per reload: each duplicate copied the source list.
  const duplicates = 38_000;
  const [template] = parseImageSet(`${header}    - nginx:1\n`, "template.yaml")[0]?.entries ?? [];
  const document = (file: string, digest?: string): ImageSetDocument[] => {
    if (template === undefined) throw new Error("no template entry");
    const entries = Array.from({ length: duplicates }, (_, index) => ({
      ...template,
      digest,
      sources: [`${file}: spec.images[${index}]`],
    }));
    return [{ file, name: "web", entries }];
  };

  it("keeps one entry with every place it was declared, in order", () => {
    const state = mergeImageSets([...document("a.yaml"), ...document("b.yaml", D1)]);
    expect(state.entries).toHaveLength(1);
    const [entry] = state.entries;
    expect(entry?.digest).toBe(D1);
    expect(entry?.sources).toHaveLength(2 * duplicates);
    expect(entry?.sources[0]).toBe("a.yaml: spec.images[0]");
    expect(entry?.sources.at(-1)).toBe(`b.yaml: spec.images[${duplicates - 1}]`);
  });

  it("names a few places of a contradiction and counts the rest", () => {
    let error: unknown;
    try {
      mergeImageSets([...document("a.yaml", D1), ...document("b.yaml", D2)]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ImageSetError);
    expect((error as Error).message).toBe(
      `b.yaml: nginx:1 is declared at ${D2} here (b.yaml: spec.images[0]) and at ${D1} in ` +
        `a.yaml: spec.images[0], a.yaml: spec.images[1], a.yaml: spec.images[2] and ${duplicates - 3} more`,
    );
  });

  it("leaves the documents it merged unchanged", () => {
    const a = document("a.yaml");
    mergeImageSets([...a, ...a]);
    expect(a[0]?.entries[0]?.sources).toEqual(["a.yaml: spec.images[0]"]);
  });
});

describe("opting out of pinning", () => {
  const parse = (file: string, images: string): ImageSetDocument[] =>
    parseImageSet(`${header}${images}`, file);

  it("reads pin: false, and a merged entry is not pinned when any source says so", () => {
    const state = mergeImageSets([
      ...parse("a.yaml", "    - nginx:1\n    - redis:7\n"),
      ...parse(
        "b.yaml",
        `    - {image: nginx:1, digest: ${D1}, pin: false}\n    - {image: redis:7, pin: true}\n`,
      ),
    ]);
    expect(state.entries.map((entry) => [entry.image, entry.pin])).toEqual([
      ["nginx:1", false],
      ["redis:7", undefined],
    ]);
  });

  it("changes the generation only for an entry that opts out", () => {
    const plain = mergeImageSets(parse("a.yaml", "    - nginx:1\n"));
    const pinned = mergeImageSets(parse("a.yaml", "    - {image: nginx:1, pin: true}\n"));
    const optedOut = mergeImageSets(parse("a.yaml", "    - {image: nginx:1, pin: false}\n"));
    expect(pinned.generation).toBe(plain.generation);
    expect(optedOut.generation).not.toBe(plain.generation);
  });

  it("reads spec.gate: false, and a merged entry gates the node when any of its sets does", () => {
    const optional = (file: string, images: string): ImageSetDocument[] =>
      parseImageSet(`${header.replace("spec:\n", "spec:\n  gate: false\n")}${images}`, file);
    const state = mergeImageSets([
      ...optional("big.yaml", "    - model:1\n    - nginx:1\n"),
      ...parse("web.yaml", "    - nginx:1\n"),
    ]);
    expect(state.entries.map((entry) => [entry.image, entry.gate])).toEqual([
      ["model:1", false],
      ["nginx:1", undefined],
    ]);
    const gated = mergeImageSets(parse("a.yaml", "    - model:1\n"));
    expect(mergeImageSets(optional("a.yaml", "    - model:1\n")).generation).not.toBe(gated.generation);
    expect(() =>
      parseImageSet(`${header.replace("spec:\n", "spec:\n  gate: no-thanks\n")}    - a:1\n`, "c.yaml"),
    ).toThrow("c.yaml:6: spec.gate: expected true or false");
  });

  it("refuses a pin that is not a boolean, naming the file, line and entry", () => {
    expect(() => parse("a.yaml", '    - {image: nginx:1, pin: "no"}\n')).toThrow(
      'a.yaml:7: spec.images[0]: expected an image reference or {image, digest}, got {"image":"nginx:1","pin":"no"}',
    );
  });
});
