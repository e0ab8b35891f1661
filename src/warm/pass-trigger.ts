import { Rerunner } from "../concurrency/index.ts";

/**
 * When passes run: one at a time; a request during a pass runs one more right after it (however
 * many requests came); a timer runs one later. Stopping ends both.
 */
export class PassTrigger {
  readonly #passes: Rerunner;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  /** `onError` sees a pass that threw; the caller decides when to try again. */
  constructor(run: () => Promise<void>, onError: (error: unknown) => void) {
    this.#passes = new Rerunner(async () => {
      if (this.#isStopped()) return;
      clearTimeout(this.#timer);
      await run();
    }, onError);
  }

  /** Runs a pass now, or right after the one in progress. */
  request(): void {
    if (this.#stopped) return;
    void this.#passes.request();
  }

  /** Runs a pass after `delayMs`, replacing the previous timer. */
  after(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => {
        this.request();
      },
      Math.max(0, delayMs),
    );
    this.#timer.unref();
  }

  /** No pass starts after this; resolves when the one in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#passes.idle();
  }

  /** Read through a method: the flag changes while a pass awaits. */
  #isStopped(): boolean {
    return this.#stopped;
  }
}
