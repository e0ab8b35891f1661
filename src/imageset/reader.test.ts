import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigMapVolume, imageSetYaml } from "../../test/agent/config-map.ts";
import {
  createImageSetReader,
  ImageSetError,
  parseImageSet,
  watchDesiredState,
  workerParser,
  type DesiredState,
  type ImageSetParser,
  type ImageSetReader,
} from "./index.ts";

/** The in-thread parser, counting the files it parses. */
function countingParser(): { parse: ImageSetParser; parsed: string[] } {
  const parsed: string[] = [];
  return {
    parsed,
    parse(text, file) {
      parsed.push(file);
      return parseImageSet(text, file);
    },
  };
}

const images = (count: number, prefix = "svc"): string[] =>
  Array.from({ length: count }, (_, i) => `registry.example.com/team/${prefix}-${i}:v${i}`);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function volume(files: Record<string, string>): Promise<ConfigMapVolume> {
  const created = await ConfigMapVolume.create(files);
  cleanups.push(() => created.remove());
  return created;
}

describe("change detection", () => {
  it("reads and parses only the files that changed", async () => {
    const config = await volume({
      "a.yaml": imageSetYaml("a", ["nginx:1"]),
      "b.yaml": imageSetYaml("b", ["redis:7"]),
    });
    const { parse, parsed } = countingParser();
    const reader = createImageSetReader({ parse });
    const first = await reader.read([config.dir]);
    expect(first.changed).toBe(true);
    expect(parsed.sort()).toEqual([join(config.dir, "a.yaml"), join(config.dir, "b.yaml")]);
    for (let poll = 0; poll < 5; poll += 1) {
      const again = await reader.read([config.dir]);
      expect(again.changed).toBe(false);
      expect(again.state).toBe(first.state);
    }
    expect(parsed).toHaveLength(2);

    // A ConfigMap update swaps `..data`: every key is new even if its text is not.
    await config.update({
      "a.yaml": imageSetYaml("a", ["nginx:2"]),
      "b.yaml": imageSetYaml("b", ["redis:7"]),
    });
    const updated = await reader.read([config.dir]);
    expect(updated.changed).toBe(true);
    expect(updated.state.entries.map((e) => e.image).sort()).toEqual(["nginx:2", "redis:7"]);
    expect(parsed).toHaveLength(4);
  });

  it("re-reads a plain file edited in place, and only that one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prepull-reader-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const [a, b] = [join(dir, "a.yaml"), join(dir, "b.yaml")];
    await writeFile(a, imageSetYaml("a", ["nginx:1"]));
    await writeFile(b, imageSetYaml("b", ["redis:7"]));
    const { parse, parsed } = countingParser();
    const reader = createImageSetReader({ parse });
    await reader.read([dir]);
    parsed.length = 0;
    await writeFile(b, imageSetYaml("b", ["redis:8"]));
    const { state } = await reader.read([dir]);
    expect(parsed).toEqual([b]);
    expect(state.entries.map((e) => e.image)).toEqual(["nginx:1", "redis:8"]);
    await rm(a);
    expect((await reader.read([dir])).state.entries.map((e) => e.image)).toEqual(["redis:8"]);
    expect(parsed).toEqual([b]);
  });

  it("does not parse an unchanged bad file again, and reports it every time", async () => {
    const config = await volume({ "bad.yaml": imageSetYaml("bad", ["NOT VALID"]) });
    const { parse, parsed } = countingParser();
    const reader = createImageSetReader({ parse });
    for (let poll = 0; poll < 3; poll += 1) {
      await expect(reader.read([config.dir])).rejects.toThrow(
        /bad\.yaml:7: spec\.images\[0\]: invalid image reference/,
      );
    }
    expect(parsed).toHaveLength(1);
  });

  it("parses a 10,000-entry set once across many polls of a watcher", async () => {
    const config = await volume({ "big.yaml": imageSetYaml("big", images(10_000)) });
    const { parse, parsed } = countingParser();
    const inner = createImageSetReader({ parse });
    let reads = 0;
    const reader: ImageSetReader = {
      read: async (paths) => {
        reads += 1;
        return inner.read(paths);
      },
    };
    const changes: DesiredState[] = [];
    const errors: Error[] = [];
    const watcher = watchDesiredState([config.dir], {
      onChange: (state) => changes.push(state),
      onError: (error) => errors.push(error),
      pollIntervalMs: 10,
      reader,
    });
    try {
      await expect.poll(() => reads, { timeout: 30_000 }).toBeGreaterThanOrEqual(25);
      expect(changes).toHaveLength(1);
      expect(changes[0]?.entries).toHaveLength(10_000);
      expect(parsed).toHaveLength(1);

      await config.update({ "big.yaml": imageSetYaml("big", images(10_000, "next")) });
      await expect.poll(() => changes.length, { timeout: 30_000 }).toBe(2);
      const after = reads;
      await expect.poll(() => reads, { timeout: 30_000 }).toBeGreaterThanOrEqual(after + 25);
      expect(parsed).toHaveLength(2);
      expect(errors).toEqual([]);
    } finally {
      watcher.close();
    }
  });
});

describe("empty files", () => {
  it("are allowed and listed in the desired state", async () => {
    const config = await volume({
      "a.yaml": imageSetYaml("a", ["nginx:1"]),
      "blank.yaml": "",
      "comments.yaml": "# emptied on purpose\n",
      "none.yaml": imageSetYaml("none", []),
    });
    const { state } = await createImageSetReader().read([config.dir]);
    expect(state.entries.map((e) => e.image)).toEqual(["nginx:1"]);
    expect(state.emptyFiles).toEqual([join(config.dir, "blank.yaml"), join(config.dir, "comments.yaml")]);
    expect(state.files).toEqual([join(config.dir, "a.yaml"), join(config.dir, "none.yaml")]);
    const blank = await createImageSetReader().read([join(config.dir, "blank.yaml")]);
    expect(blank.state.entries).toEqual([]);
    expect(blank.state.emptyFiles).toEqual([join(config.dir, "blank.yaml")]);
  });
});

describe("workerParser", () => {
  const parse = workerParser({ inlineBytes: 0 });

  it("parses small files on the calling thread", () => {
    const text = imageSetYaml("small", ["nginx:1"]);
    expect(workerParser()(text, "small.yaml")).toEqual(parseImageSet(text, "small.yaml"));
  });

  it("parses off the main thread: the event loop keeps turning meanwhile", async () => {
    const text = imageSetYaml("big", images(1_000));
    let turns = 0;
    let parsing = true;
    const turn = (): void => {
      turns += 1;
      if (parsing) setImmediate(turn);
    };
    setImmediate(turn);
    const documents = await parse(text, "big.yaml");
    parsing = false;
    expect(documents).toEqual(parseImageSet(text, "big.yaml"));
    expect(turns).toBeGreaterThan(1);
  });

  it("brings back errors as ImageSetError with the same message", async () => {
    const text = imageSetYaml("bad", ["nginx:1", "NOT VALID"]);
    const error: unknown = await Promise.resolve(parse(text, "bad.yaml")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageSetError);
    expect((error as Error).message).toBe(
      (() => {
        try {
          parseImageSet(text, "bad.yaml");
        } catch (inThread) {
          return (inThread as Error).message;
        }
        return "no error in thread";
      })(),
    );
    expect((error as Error).message).toMatch(
      /^bad\.yaml:8: spec\.images\[1\]: invalid image reference "NOT VALID"/,
    );
  });

  it("reports a parse that runs out of heap as the file's error", async () => {
    const small = workerParser({ heapMb: 8, inlineBytes: 0 });
    await expect(small(imageSetYaml("a", images(10_000)), "huge.yaml")).rejects.toThrow(
      new ImageSetError("huge.yaml", "needs more than 8 MiB of memory to parse"),
    );
  });

  it("reports a parse that runs out of time as the file's error", async () => {
    const slow = workerParser({ timeoutMs: 1, inlineBytes: 0 });
    await expect(slow(imageSetYaml("a", images(2_000)), "slow.yaml")).rejects.toThrow(
      "slow.yaml: took longer than 0.001s to parse",
    );
  });
});
