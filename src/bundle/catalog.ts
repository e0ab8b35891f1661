import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../failure/index.ts";
import { INDEX_FILE, LAYOUT_FILE } from "./layout.ts";
import { openLayoutSource, type LayoutSource } from "./layout-source.ts";

/** A bundle that could not be read, and why; the others are still used. */
export interface BundleProblem {
  readonly path: string;
  readonly message: string;
}

/** The bundles one pass can import from. */
export interface BundleCatalog {
  readonly sources: readonly LayoutSource[];
  readonly problems: readonly BundleProblem[];
  /** The first bundle holding the blob, in path order. */
  find(digest: string): Promise<LayoutSource | undefined>;
}

/** More bundles than this in one directory is a mistake (or an attack on the agent's memory). */
export const MAX_BUNDLES = 1024;

async function isLayoutDirectory(path: string): Promise<boolean> {
  const found = await Promise.all(
    [LAYOUT_FILE, INDEX_FILE].map((file) =>
      stat(join(path, file)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return found.some(Boolean);
}

/**
 * The bundles at `paths`: each a bundle (a layout directory or a tar file), or a directory of
 * bundles (`--bundles DIR`: every layout directory and file in it, hidden names skipped).
 */
export async function bundlePaths(paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory() !== true || (await isLayoutDirectory(path))) {
      found.push(path);
      continue;
    }
    const names = (await readdir(path)).filter((name) => !name.startsWith(".")).sort();
    found.push(...names.map((name) => join(path, name)));
  }
  return found.slice(0, MAX_BUNDLES);
}

/** Identifies a bundle's current contents cheaply: a replaced or rewritten bundle is read again. */
async function fingerprint(path: string): Promise<string | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return undefined;
  if (!info.isDirectory()) return `${String(info.ino)}:${String(info.size)}:${String(info.mtimeMs)}`;
  const index = await stat(join(path, INDEX_FILE)).catch(() => undefined);
  return `${String(info.ino)}:${String(index?.mtimeMs)}:${String(index?.size)}`;
}

/**
 * Opens bundles, keeping what it read of each until the bundle changes: an agent looks at its
 * bundles directory every pass, and an archive's index is read once, not every pass.
 */
export class BundleReader {
  readonly #cache = new Map<string, { fingerprint: string; source: LayoutSource }>();
  readonly #paths: readonly string[];
  readonly #maxAgeMs: number;
  readonly #onProblem: ((problem: BundleProblem) => void) | undefined;
  #current: { at: number; catalog: Promise<BundleCatalog> } | undefined;
  #reported = new Set<string>();

  /**
   * `maxAgeMs`: how long one look at the bundles serves (a pass asks for every entry it imports);
   * `onProblem` hears of each unreadable bundle once, until it changes.
   */
  constructor(
    paths: readonly string[],
    options: { maxAgeMs?: number; onProblem?: (problem: BundleProblem) => void } = {},
  ) {
    this.#paths = paths;
    this.#maxAgeMs = options.maxAgeMs ?? 5_000;
    this.#onProblem = options.onProblem;
  }

  #signature: string | undefined;

  /**
   * Whether the bundles changed (one added, removed or rewritten) since the last call; the first
   * call only takes note. A change also ends the cached look, so the next import sees it.
   */
  async changed(): Promise<boolean> {
    const paths = await bundlePaths(this.#paths);
    const prints = await Promise.all(paths.map(fingerprint));
    const signature = paths.map((path, index) => `${path}=${String(prints[index])}`).join("\n");
    const changed = this.#signature !== undefined && signature !== this.#signature;
    this.#signature = signature;
    if (changed) this.#current = undefined;
    return changed;
  }

  /** The bundles as they are now, looked at again once the last look is `maxAgeMs` old. */
  catalog(): Promise<BundleCatalog> {
    const now = performance.now();
    if (this.#current === undefined || now - this.#current.at > this.#maxAgeMs) {
      const catalog = this.open(this.#paths).then((opened) => {
        const reported = new Set<string>();
        for (const problem of opened.problems) {
          const key = `${problem.path}\n${problem.message}`;
          reported.add(key);
          if (!this.#reported.has(key)) this.#onProblem?.(problem);
        }
        this.#reported = reported;
        return opened;
      });
      this.#current = { at: now, catalog };
      catalog.catch(() => {
        this.#current = undefined;
      });
    }
    return this.#current.catalog;
  }

  async open(paths: readonly string[]): Promise<BundleCatalog> {
    const sources: LayoutSource[] = [];
    const problems: BundleProblem[] = [];
    const seen = new Set<string>();
    for (const path of await bundlePaths(paths)) {
      seen.add(path);
      const print = await fingerprint(path);
      const cached = this.#cache.get(path);
      if (cached !== undefined && cached.fingerprint === print) {
        sources.push(cached.source);
        continue;
      }
      try {
        const source = await openLayoutSource(path);
        if (print !== undefined) this.#cache.set(path, { fingerprint: print, source });
        sources.push(source);
      } catch (error) {
        this.#cache.delete(path);
        problems.push({ path, message: errorMessage(error) });
      }
    }
    for (const path of this.#cache.keys()) if (!seen.has(path)) this.#cache.delete(path);
    return {
      sources,
      problems,
      async find(digest) {
        for (const source of sources) if ((await source.blobSize(digest)) !== undefined) return source;
        return undefined;
      },
    };
  }
}
