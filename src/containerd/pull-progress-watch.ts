import { readIngestProgress } from "./progress.ts";
import type { ContainerdApi } from "./types.ts";

/** Bytes of the one pulling entry, or null when they cannot be told apart. */
export type PullProgressView = { readonly doneBytes: number; readonly totalBytes: number } | null;

/** How often the content store is read while pulls run. */
const PROGRESS_INTERVAL_MS = 1_000;

/**
 * Reads pull progress from containerd's content store once a second while entries pull, and
 * never while none does. An ingest names a blob, not the image it is for, so the bytes are
 * credited to an entry only while it is the one pulling; with several pulls at once each shows
 * null rather than a share that may belong to another. Downloads by kubelet in the same
 * namespace are counted too: containerd cannot tell them apart.
 */
export class PullProgressWatch {
  readonly #api: ContainerdApi;
  readonly #pulling: () => readonly string[];
  #timer: NodeJS.Timeout | undefined;
  #reading = false;
  #key: string | undefined;
  #progress: PullProgressView = null;

  /** `pulling` lists the keys of the entries pulling now. */
  constructor(api: ContainerdApi, pulling: () => readonly string[]) {
    this.#api = api;
    this.#pulling = pulling;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.#read(), PROGRESS_INTERVAL_MS).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The same object while the bytes did not move, so the status body cache keeps its bytes. */
  entry(key: string): PullProgressView {
    return key === this.#key ? this.#progress : null;
  }

  async #read(): Promise<void> {
    if (this.#reading) return;
    const pulling = this.#pulling();
    const [only] = pulling;
    if (pulling.length !== 1 || only === undefined) {
      this.#key = undefined;
      this.#progress = null;
      return;
    }
    this.#reading = true;
    try {
      const { bytesDone, bytesTotal } = await readIngestProgress(this.#api, undefined, { timeoutMs: 900 });
      const last = this.#key === only ? this.#progress : null;
      // Finished blobs leave the ingest list: keep the furthest reading rather than go back.
      if (last === null || bytesDone > last.doneBytes) {
        this.#progress = { doneBytes: bytesDone, totalBytes: Math.max(bytesTotal, bytesDone) };
      }
      this.#key = only;
    } catch {
      // The runtime cannot say (not containerd, or it is busy): no progress rather than a guess.
      this.#key = undefined;
      this.#progress = null;
    } finally {
      this.#reading = false;
    }
  }
}
