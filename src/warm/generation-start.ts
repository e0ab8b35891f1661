import { spreadDelay } from "./backoff.ts";
import type { Clock } from "./entries.ts";
import type { WarmLogger } from "./events.ts";

/**
 * When the passes of the generation in force may start: nodes start a new generation after
 * `hash(node, generation) mod spreadMs`, so that a fleet does not pull all at once. The same
 * generation again (a set that changed back, or only lost entries) keeps its start.
 */
export class GenerationStart {
  readonly #nodeName: string;
  readonly #spreadMs: number;
  readonly #clock: Clock;
  readonly #logger: WarmLogger | undefined;
  #generation = "";
  #notBefore = 0;

  constructor(options: {
    nodeName: string;
    spreadMs: number;
    clock: Clock;
    logger?: WarmLogger | undefined;
  }) {
    this.#nodeName = options.nodeName;
    this.#spreadMs = options.spreadMs;
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  get generation(): string {
    return this.#generation;
  }

  /** A set of `generation` took force. */
  took(generation: string): void {
    if (generation === this.#generation) return;
    this.#generation = generation;
    const delay = spreadDelay(this.#nodeName, generation, this.#spreadMs);
    this.#notBefore = this.#clock.now() + delay;
    if (delay > 0)
      this.#logger?.info({ generation, delayMs: delay }, "spreading the start of a new generation");
  }

  /** Milliseconds passes must still wait; 0 once they may run. */
  waitMs(): number {
    return Math.max(0, this.#notBefore - this.#clock.now());
  }
}
