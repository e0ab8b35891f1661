import { describe, expect, it } from "vitest";
import { Lexer, parseDocument } from "yaml";
import { aliasExpansion, LexicalDepth } from "./limits.ts";
import { walkManifest } from "./stream.ts";

describe("aliasExpansion", () => {
  it("counts the nodes each alias stands for, once per anchor", () => {
    expect(aliasExpansion(parseDocument("a: 1\nb: [x, y]\n"))).toBe(0);
    // [x, y] is three nodes (the sequence and two scalars); two aliases add six.
    expect(aliasExpansion(parseDocument("a: &s [x, y]\nb: *s\nc: *s\n"))).toBe(6);
    // Nested aliases multiply: b stands for 1 + 3 + 3 nodes.
    expect(aliasExpansion(parseDocument("a: &s [x, y]\nb: &t [*s, *s]\nc: *t\n"))).toBe(6 + 7);
  });

  it("is infinite for an alias inside its own anchor", () => {
    expect(aliasExpansion(parseDocument("a: &s [x, *s]\n"))).toBe(Infinity);
  });
});

describe("LexicalDepth", () => {
  const deepest = (text: string): number => {
    const depth = new LexicalDepth();
    let max = 0;
    for (const lexeme of new Lexer().lex(text)) max = Math.max(max, depth.next(lexeme));
    return max;
  };

  it("counts flow nesting and compact block nesting on one line, never more than the real depth", () => {
    expect(deepest("a: [[[x]]]")).toBe(3);
    expect(deepest("- - - x\n- y\n")).toBe(3);
    expect(deepest("a:\n  b:\n    c: [d]\n")).toBe(1);
  });
});

describe("walkManifest under the limits", () => {
  it("reads a document that reuses anchors a normal amount", () => {
    const containers = Array.from({ length: 50 }, (_, i) => `    - {name: c${String(i)}, image: *image}`);
    const text = `kind: Pod\nmetadata: {name: p}\nspec:\n  initContainers: [{name: i, image: &image nginx:1.27}]\n  containers:\n${containers.join("\n")}\n`;
    const walked = walkManifest(text);
    expect(walked.problems).toEqual([]);
    expect(walked.images.map((found) => found.image)).toEqual(Array(51).fill("nginx:1.27"));
  });
});
