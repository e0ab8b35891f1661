import type { Clock, StateCounts } from "./entries.ts";

/** When the generation in force took force on this node, and when the node was first warm at it. */
export interface GenerationTimes {
  /** Epoch milliseconds. */
  readonly startedAt: number;
  /** Epoch milliseconds; null until every entry of the generation has been present at once. */
  readonly warmAt: number | null;
}

/**
 * Times a generation from taking force to being warm, so that a fleet can tell how long a new set
 * takes to be everywhere. "Warm" is the first moment every entry is present: an image removed
 * later makes the node not warm again, but does not move the time it first was.
 */
export class GenerationTiming {
  readonly #clock: Clock;
  #generation: string | undefined;
  #times: GenerationTimes = { startedAt: 0, warmAt: null };

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** A generation took force; the one already in force again changes nothing. */
  started(generation: string): void {
    if (generation === this.#generation) return;
    this.#generation = generation;
    this.#times = { startedAt: this.#clock.now(), warmAt: null };
  }

  /** True until the generation in force has been warm: only then do counts need looking at. */
  waiting(): boolean {
    return this.#generation !== undefined && this.#times.warmAt === null;
  }

  /** The set's counts after a change: the first time every entry is present marks the node warm. */
  observe(counts: StateCounts): void {
    if (this.waiting() && counts.present === counts.total) {
      this.#times = { ...this.#times, warmAt: this.#clock.now() };
    }
  }

  times(): GenerationTimes {
    return this.#times;
  }
}
