import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  ImageSetError,
  mergeImageSets,
  parseImageSet,
  type DesiredState,
  type ImageSetDocument,
} from "./imageset.ts";

const SET_FILE = /\.(ya?ml|json)$/;

const STAT_PROBLEMS: Record<string, string> = {
  ENOENT: "no such file or directory",
  ELOOP: "too many levels of symbolic links (a symlink loop?)",
  EACCES: "permission denied",
  ENOTDIR: "a path component is not a directory",
};

/** Every ImageSet file a path names: itself, or the set files directly in a directory. */
async function filesOf(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    throw new ImageSetError(path, STAT_PROBLEMS[code] ?? `cannot read (${code})`);
  }
  // Devices, pipes and sockets (/dev/zero) never end or never hold a set.
  if (info.isFile()) return [path];
  if (!info.isDirectory()) throw new ImageSetError(path, "not a regular file or a directory");
  // Dot entries are ConfigMap plumbing (`..data`, `..2026_…`); the keys link through them.
  const names = (await readdir(path)).filter((name) => !name.startsWith(".") && SET_FILE.test(name)).sort();
  const files: string[] = [];
  for (const name of names) {
    const file = join(path, name);
    if ((await stat(file).catch(() => undefined))?.isFile() === true) files.push(file);
  }
  return files;
}

/** The ImageSet files `paths` name, in order; a directory's set files sorted by name. */
export async function imageSetFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) files.push(...(await filesOf(path)));
  if (files.length === 0) {
    throw new ImageSetError(paths.join(", "), "no ImageSet files (*.yaml, *.yml, *.json) found");
  }
  return files;
}

/** Reads and merges the sets at `paths` (files and directories). */
export async function loadDesiredState(paths: readonly string[]): Promise<DesiredState> {
  const documents: ImageSetDocument[] = [];
  for (const file of await imageSetFiles(paths)) {
    documents.push(...parseImageSet(await readFile(file, "utf8"), file));
  }
  return mergeImageSets(documents);
}

export interface DesiredStateWatcher {
  close(): void;
}

/**
 * Re-reads the sets when they change. A ConfigMap volume swaps its `..data` symlink atomically
 * rather than writing files, so directories are watched and also polled. `onChange` fires when
 * the generation changes or a broken config becomes valid again; `onError` when a new version is
 * invalid — the caller keeps the last good state.
 */
export function watchDesiredState(
  paths: readonly string[],
  handlers: {
    onChange(state: DesiredState): void;
    onError(error: Error): void;
    debounceMs?: number;
    pollIntervalMs?: number;
  },
  initialGeneration?: string,
): DesiredStateWatcher {
  let generation = initialGeneration;
  let lastError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let reading = false;
  let closed = false;
  // Read through a function: the flag changes while a reload awaits.
  const isClosed = (): boolean => closed;

  const reload = async (): Promise<void> => {
    if (reading || isClosed()) return;
    reading = true;
    try {
      const state = await loadDesiredState(paths);
      if (isClosed()) return;
      if (state.generation !== generation || lastError !== undefined) {
        generation = state.generation;
        lastError = undefined;
        handlers.onChange(state);
      }
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (!isClosed() && failure.message !== lastError) {
        lastError = failure.message;
        handlers.onError(failure);
      }
    } finally {
      reading = false;
    }
  };
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), handlers.debounceMs ?? 200);
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set([...paths, ...paths.map((path) => dirname(path))])) {
    try {
      const watcher = watch(dir, schedule);
      watcher.on("error", () => undefined);
      watchers.push(watcher);
    } catch {
      // A path that is not a directory, or gone: the poll below still notices changes.
    }
  }
  const poll = setInterval(() => void reload(), handlers.pollIntervalMs ?? 2_000);
  poll.unref();

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      for (const watcher of watchers) watcher.close();
    },
  };
}
