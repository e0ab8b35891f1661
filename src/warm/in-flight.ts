import type { WarmTarget } from "./plan.ts";

/** Work started for one entry: cancellable, and known once it holds a pull slot. */
interface Job {
  readonly target: WarmTarget;
  readonly controller: AbortController;
  pulling: boolean;
}

/**
 * The scheduler's work in flight: one job per entry that waits for or holds a pull slot, keyed by
 * `entryKey`, and every pass's pending results. A job ends when its entry's result is in, or is
 * cancelled (its entry left the set, or the process stops).
 */
export class InFlightWork {
  readonly #jobs = new Map<string, Job>();
  readonly #passes = new Set<Promise<unknown>>();

  /** No job runs: nothing the runtime holds can change under a pass. */
  get idle(): boolean {
    return this.#jobs.size === 0;
  }

  has(key: string): boolean {
    return this.#jobs.has(key);
  }

  /** A job for an entry of the set; its signal cancels the entry's work. */
  start(key: string, target: WarmTarget): AbortSignal {
    const controller = new AbortController();
    this.#jobs.set(key, { target, controller, pulling: false });
    return controller.signal;
  }

  /** The entry's job got a pull slot. */
  pulling(key: string): void {
    const job = this.#jobs.get(key);
    if (job !== undefined) job.pulling = true;
  }

  /** The job with `signal` ended; a later job for the same entry (another pass's) stays. */
  end(key: string, signal: AbortSignal | undefined): void {
    if (signal !== undefined && this.#jobs.get(key)?.controller.signal === signal) this.#jobs.delete(key);
  }

  /** Cancels the jobs of `keys`; returns the entries whose work was cancelled. */
  cancel(keys: Iterable<string>, reason: Error): WarmTarget[] {
    const cancelled: WarmTarget[] = [];
    for (const key of keys) {
      const job = this.#jobs.get(key);
      if (job === undefined) continue;
      job.controller.abort(reason);
      this.#jobs.delete(key);
      cancelled.push(job.target);
    }
    return cancelled;
  }

  /** Keys of the entries that hold a pull slot now. */
  pullingKeys(): string[] {
    return [...this.#jobs].filter(([, job]) => job.pulling).map(([key]) => key);
  }

  /** Keeps a pass's pending results until they settle, so that `stop` can wait for them. */
  track(results: Promise<unknown>): void {
    const tracked = results.finally(() => this.#passes.delete(tracked));
    this.#passes.add(tracked);
  }

  /** Cancels jobs still waiting for a slot, lets pulls finish within `graceMs`, then cancels them. */
  async stop(graceMs: number): Promise<void> {
    const reason = new Error("shutting down");
    for (const job of this.#jobs.values()) if (!job.pulling) job.controller.abort(reason);
    const allDone = Promise.all(this.#passes);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace">((resolve) => {
      timer = setTimeout(() => {
        resolve("grace");
      }, graceMs);
    });
    if ((await Promise.race([allDone, graceOver])) === "grace") {
      for (const job of this.#jobs.values()) job.controller.abort(reason);
      await allDone;
    }
    clearTimeout(timer);
  }
}
