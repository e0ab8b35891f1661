import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../failure/index.ts";
import { DEFAULT_LIMITS, ImageSetError, loadDesiredState, parseImageSet, readBoundedFile } from "./index.ts";
import { findExcessiveNesting } from "./nesting.ts";

const header = "apiVersion: prepull/v1\nkind: ImageSet\nmetadata:\n  name: web\nspec:\n  images:\n";

function errorOf(action: () => unknown): ImageSetError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ImageSetError);
    expect(error).toBeInstanceOf(InputError);
    return error as ImageSetError;
  }
  throw new Error("expected an error");
}

describe("nesting", () => {
  const limits = { flowDepth: 4, indent: 16 };

  it("counts flow collections only where a value may start", () => {
    expect(findExcessiveNesting("a: [[[[1]]]]\n", limits)).toBeUndefined();
    expect(findExcessiveNesting("a: [[[[[1]]]]]\n", limits)).toEqual({
      line: 1,
      detail: "collections nested deeper than 4 levels",
    });
    // Brackets inside plain and quoted scalars and comments are text, not collections.
    const text = "a: x[[[[[[\nb: '[[[[[[ it''s'\nc: \"{{{{{{\\\"\"\n# [[[[[[\nd: it's [[[[[[\n";
    expect(findExcessiveNesting(text, limits)).toBeUndefined();
    expect(findExcessiveNesting(`${text}e: {a: {b: [{c: 1}]}}\n`, limits)).toBeUndefined();
    expect(findExcessiveNesting(`${text}e: {a: {b: [{c: [1]}]}}\n`, limits)?.line).toBe(6);
  });

  it("bounds block nesting by its indentation", () => {
    expect(findExcessiveNesting(`${"- ".repeat(8)}x\n`, limits)).toBeUndefined();
    expect(findExcessiveNesting(`a:\n${"- ".repeat(9)}x\n`, limits)).toEqual({
      line: 2,
      detail: "indented deeper than 16 columns",
    });
  });

  it("refuses 200 KB of [ before parsing it, naming the file", () => {
    const error = errorOf(() => parseImageSet(`a: ${"[".repeat(200_000)}`, "deep.yaml"));
    expect(error.message).toBe(
      `deep.yaml:1: refused: collections nested deeper than ${DEFAULT_LIMITS.flowDepth} levels`,
    );
    expect(error.source).toBe("deep.yaml");
  });

  it("keeps ordinary sets, including JSON", () => {
    const json = JSON.stringify({
      apiVersion: "prepull/v1",
      kind: "ImageSet",
      metadata: { name: "j", labels: { team: "web" } },
      spec: { images: ["nginx:1", { image: "redis:7" }] },
    });
    expect(parseImageSet(json, "set.json")[0]?.entries).toHaveLength(2);
  });
});

describe("aliases", () => {
  it("refuses an alias, naming the file and line", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "",
    ].join("\n");
    expect(errorOf(() => parseImageSet(bomb, "bomb.yaml")).message).toBe(
      "bomb.yaml:2: refused: YAML alias *a; write the value out instead",
    );
    const reuse = `${header}    - &api ghcr.io/a/api:1\n    - *api\n`;
    expect(errorOf(() => parseImageSet(reuse, "web.yaml")).message).toContain(
      "web.yaml:8: refused: YAML alias",
    );
  });
});

describe("bounded reading", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "prepull-limits-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a file past the cap before reading it", async () => {
    const file = join(dir, "big.yaml");
    await writeFile(file, Buffer.alloc(DEFAULT_LIMITS.fileBytes + 1, "#"));
    await expect(readBoundedFile(file)).rejects.toThrow(
      `${file}: 4194305 bytes is over the 4 MiB limit for an ImageSet file; split the set into several files`,
    );
    await expect(loadDesiredState([dir])).rejects.toThrow(`${file}: 4194305 bytes is over the 4 MiB limit`);
    await writeFile(file, `${header}    - nginx:1\n`);
    await expect(readBoundedFile(file, 10)).rejects.toThrow(/: \d+ bytes is over the 10 bytes limit/);
    expect((await readBoundedFile(file)).text).toContain("nginx:1");
  });

  it("refuses devices and FIFOs without waiting on them", async () => {
    await expect(readBoundedFile("/dev/zero")).rejects.toThrow(
      "/dev/zero: not a regular file (a device, FIFO or socket)",
    );
    const fifo = join(dir, "pipe.yaml");
    execFileSync("mkfifo", [fifo]);
    // Nobody writes to the FIFO: a blocking open or read would hang this test.
    await expect(loadDesiredState([dir])).rejects.toThrow(`${fifo}: not a regular file`);
    await expect(loadDesiredState([fifo])).rejects.toBeInstanceOf(ImageSetError);
  });

  it("names the path of a symlink loop", async () => {
    const loop = join(dir, "loop.yaml");
    await symlink("loop.yaml", loop);
    await expect(loadDesiredState([dir])).rejects.toThrow(`${loop}: symbolic link loop`);
    await expect(loadDesiredState([loop])).rejects.toThrow(`${loop}: symbolic link loop`);
  });

  it("bounds the files of a load and their total size", async () => {
    const sets = join(dir, "sets");
    await mkdir(sets);
    for (const name of ["a", "b", "c"])
      await writeFile(join(sets, `${name}.yaml`), `${header}    - ${name}:1\n`);
    expect((await loadDesiredState([sets])).entries).toHaveLength(3);
    const { createImageSetReader } = await import("./reader.ts");
    const tight = (limits: Partial<typeof DEFAULT_LIMITS>) =>
      createImageSetReader({ limits: { ...DEFAULT_LIMITS, ...limits } }).read([sets]);
    await expect(tight({ files: 2 })).rejects.toThrow(
      `${sets}: more than 2 ImageSet files, the limit of one load`,
    );
    await expect(tight({ totalBytes: 200 })).rejects.toThrow(
      /hold 2\d\d bytes together, over the 200 bytes limit/,
    );
  });
});
