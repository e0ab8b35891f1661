/** A call held at a gate: the test sees it arrive and decides when it goes on. */
export interface Hold {
  /** Resolves once a call has arrived at the gate and waits there. */
  readonly reached: Promise<void>;
  /** Lets the waiting call go on (or the next one through, if none has arrived yet). */
  release(): void;
}

/**
 * One call held until released. A signal that aborts while the call waits ends the wait with the
 * signal's reason, as a cancelled gRPC call ends.
 */
export class Gate implements Hold {
  readonly reached: Promise<void>;
  readonly #opened: Promise<void>;
  #arrived: () => void = () => undefined;
  #open: () => void = () => undefined;

  constructor() {
    this.reached = new Promise<void>((resolve) => {
      this.#arrived = resolve;
    });
    this.#opened = new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }

  release(): void {
    this.#open();
  }

  /** Waits at the gate until it is released, or rejects when `signal` aborts first. */
  async pass(signal: AbortSignal | undefined): Promise<void> {
    this.#arrived();
    if (signal === undefined) return this.#opened;
    signal.throwIfAborted();
    const { promise: aborted, reject } = Promise.withResolvers<never>();
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([this.#opened, aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}
