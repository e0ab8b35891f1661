/**
 * When passes run: one at a time; a request during a pass runs one more right after it (however
 * many requests came); a timer runs one later. Stopping ends both.
 */
export class PassTrigger {
  readonly #run: () => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  /** `onError` sees a pass that threw; the caller decides when to try again. */
  constructor(run: () => Promise<void>, onError: (error: unknown) => void) {
    this.#run = run;
    this.#onError = onError;
  }

  /** Runs a pass now, or right after the one in progress. */
  request(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#running = this.#run()
      .catch(this.#onError)
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.request();
        }
      });
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
    await this.#running;
  }
}
