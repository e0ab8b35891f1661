/**
 * Runs a task one at a time. A request while it runs makes it run once more right after, however
 * many requests came, with the argument of the latest; a request while it is idle runs it at once
 * (synchronously up to the task's first await). A task that throws goes to `onError`, and a
 * request made meanwhile still runs.
 */
export class Rerunner<T = void> {
  readonly #task: (arg: T) => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #active = false;
  #running: Promise<void> = Promise.resolve();
  #next: { readonly arg: T } | undefined;

  constructor(task: (arg: T) => Promise<void>, onError: (error: unknown) => void) {
    this.#task = task;
    this.#onError = onError;
  }

  /** Whether a run is in progress (or one more is due after it). */
  get running(): boolean {
    return this.#active;
  }

  /** Runs now, or once more after the run in progress; resolves when no run is left. */
  request(arg: T): Promise<void> {
    this.#next = { arg };
    if (!this.#active) {
      this.#active = true;
      this.#running = this.#drain();
    }
    return this.#running;
  }

  /** Resolves once no run is in progress nor due. */
  async idle(): Promise<void> {
    while (this.#active) await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      for (let next = this.#next; next !== undefined; next = this.#next) {
        this.#next = undefined;
        try {
          await this.#task(next.arg);
        } catch (error) {
          this.#onError(error);
        }
      }
    } finally {
      this.#active = false;
    }
  }
}
