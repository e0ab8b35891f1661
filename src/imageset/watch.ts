import { watch, type FSWatcher } from "node:fs";
import { dirname } from "node:path";
import type { DesiredState } from "./imageset.ts";
import { createImageSetReader, type ImageSetReader } from "./reader.ts";
import { workerParser } from "./worker-parser.ts";
import { asError } from "../failure/index.ts";

export interface DesiredStateWatcher {
  close(): void;
}

/**
 * Re-reads the sets when they change. A ConfigMap volume swaps its `..data` symlink atomically
 * rather than writing files, so directories are watched and also polled; a poll that finds no
 * file changed costs a few stats (see `createImageSetReader`). Files are parsed off the main
 * thread by default. `onChange` fires when the generation changes or a broken config becomes
 * valid again; `onError` when a new version is invalid — the caller keeps the last good state.
 */
export function watchDesiredState(
  paths: readonly string[],
  handlers: {
    onChange(state: DesiredState): void;
    onError(error: Error): void;
    debounceMs?: number;
    pollIntervalMs?: number;
    reader?: ImageSetReader;
  },
  initialGeneration?: string,
): DesiredStateWatcher {
  const reader = handlers.reader ?? createImageSetReader({ parse: workerParser() });
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
      const { state } = await reader.read(paths);
      if (isClosed()) return;
      if (state.generation !== generation || lastError !== undefined) {
        generation = state.generation;
        lastError = undefined;
        handlers.onChange(state);
      }
    } catch (error) {
      const failure = asError(error);
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
