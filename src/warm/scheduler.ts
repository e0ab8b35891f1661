import PQueue from "p-queue";
import type { RetryPolicies } from "./backoff.ts";
import {
  EntryBook,
  entryKey,
  systemClock,
  type Clock,
  type EntryEvent,
  type EntryFaults,
  type StateCounts,
} from "./entries.ts";
import { GenerationStart } from "./generation-start.ts";
import { GenerationTiming, type GenerationTimes } from "./generation-timing.ts";
import type { EntryResult } from "./execute.ts";
import { InFlightWork } from "./in-flight.ts";
import { startWarmPass, type PassDependencies, type PassHooks, type StartedPass } from "./pass.ts";
import { PassTrigger } from "./pass-trigger.ts";
import type { WarmTarget } from "./plan.ts";
import type { RuntimeImage, RuntimeVersion } from "./ports.ts";
import { RuntimeContact } from "./runtime-contact.ts";
import type { HealthVerdict, RuntimeStatus } from "./runtime-health.ts";
import type { EntryStatus } from "./state.ts";
import { logFinished, type WarmLogger, type WarmLoopEvents } from "./events.ts";
import type { FailureKind } from "../failure/index.ts";

/** The pass's runtime, registry, disk and bundle parts, handed to every pass as they are. */
type PassParts = Omit<PassDependencies, "slots" | "signal">;

export interface WarmSchedulerOptions extends PassParts {
  readonly nodeName: string;
  readonly concurrency: number;
  readonly pullTimeoutMs: number;
  readonly resyncMs: number;
  /** New generations start after `hash(node, generation) mod spreadMs`. */
  readonly spreadMs: number;
  /** How long the runtime may stay unreachable before `health()` fails. */
  readonly runtimeGraceMs: number;
  readonly retry?: RetryPolicies;
  readonly events?: WarmLoopEvents;
  readonly logger?: WarmLogger;
  readonly clock?: Clock;
  /** The runtime answered after it had not (or for the first time), with its version. */
  readonly onRuntimeReachable?: (version: RuntimeVersion | undefined) => void;
  /** A pass's work ended: every entry it checked is settled (see `SettledPass`). */
  readonly onPassSettled?: (pass: SettledPass) => void;
}

export interface SettledPass {
  /**
   * The node's images as the pass read them, when nothing can have changed them since: no pull
   * was in flight when it read them and it pulled nothing. `undefined` otherwise.
   */
  readonly images: readonly RuntimeImage[] | undefined;
  /** Entries of other passes still wait for or hold a pull slot. */
  readonly pullsRunning: boolean;
}

/** One entry of the desired set: what it asks for, and where it stands. */
export interface ScheduledEntry {
  /** `entryKey(target)`, made once. */
  readonly key: string;
  readonly target: WarmTarget;
  readonly status: EntryStatus;
}

export interface WarmStatus {
  readonly generation: string;
  readonly warm: boolean;
  /** The same array while no entry changed. */
  readonly entries: readonly EntryStatus[];
  readonly counts: StateCounts;
  readonly runtime: RuntimeStatus;
  readonly lastPass: { readonly at: string; readonly seconds: number } | null;
}

/**
 * Keeps a desired set warm on this node by running passes: at start, when the set changes, every
 * resync interval, when an entry's backoff ends, and on reconnection while the runtime is down.
 * Pulls of one pass may still run when the next starts; an entry with work in flight is left to
 * it. Entries that leave the set have their work cancelled.
 */
export class WarmScheduler {
  readonly #options: WarmSchedulerOptions;
  readonly #clock: Clock;
  readonly #book: EntryBook;
  readonly #runtime: RuntimeContact;
  readonly #slots: PQueue;
  readonly #inFlight = new InFlightWork();
  readonly #trigger: PassTrigger;
  readonly #timing: GenerationTiming;
  readonly #start: GenerationStart;
  #started = false;
  #lastPass: { at: number; seconds: number } | undefined;
  /** When the trigger's timer runs the next pass. */
  #nextPassAt = Infinity;

  constructor(options: WarmSchedulerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#book = new EntryBook({ clock: this.#clock, ...(options.retry ? { retry: options.retry } : {}) });
    this.#runtime = new RuntimeContact({ ...options, graceMs: options.runtimeGraceMs, clock: this.#clock });
    this.#slots = new PQueue({ concurrency: options.concurrency });
    this.#timing = new GenerationTiming(this.#clock);
    this.#start = new GenerationStart({ ...options, clock: this.#clock });
    this.#trigger = new PassTrigger(
      () => this.#pass(),
      (error) => {
        options.logger?.error({ err: error }, "warm pass failed unexpectedly");
        this.#passIn(options.resyncMs);
      },
    );
  }

  /** Replaces the desired set. Entries that left it are cancelled; new ones start pending. */
  setDesired(targets: readonly WarmTarget[], generation: string): void {
    const left = this.#book.replace(targets);
    for (const { image } of this.#inFlight.cancel(left, new Error("the entry left the desired set"))) {
      this.#options.logger?.info({ image }, "entry left the set; cancelling its pull");
    }
    this.#timing.started(generation);
    // The new set may be present already (entries only left it).
    this.#timing.observe(this.#book.counts());
    this.#start.took(generation);
    if (this.#started) this.#trigger.request();
  }

  /** Tries entries that failed with `kind` now instead of at their next retry. */
  retryNow(kind: FailureKind): number {
    const count = this.#book.retryNow(kind);
    if (count > 0 && this.#started) this.#trigger.request();
    return count;
  }

  start(): void {
    this.#started = true;
    this.#trigger.request();
  }

  /** Starts no more pulls, lets running ones finish within `graceMs`, then cancels them. */
  async stop(graceMs: number): Promise<void> {
    await this.#trigger.stop();
    await this.#inFlight.stop(graceMs);
  }

  status(): WarmStatus {
    const counts = this.#book.counts();
    const last = this.#lastPass;
    return {
      generation: this.#start.generation,
      warm: counts.present === counts.total,
      entries: this.#book.statuses(),
      counts,
      runtime: this.#runtime.status(),
      lastPass: last === undefined ? null : { at: new Date(last.at).toISOString(), seconds: last.seconds },
    };
  }

  /** The desired entries in set order, with their status; the same array while none changed. */
  entries(): readonly ScheduledEntry[] {
    return this.#book.records();
  }

  /** When the generation in force took force here, and when this node was first warm at it. */
  generationTimes(): GenerationTimes {
    return this.#timing.times();
  }

  /** Failures by kind and drifts, kept through retries; the same object while no entry changed. */
  faults(): EntryFaults {
    return this.#book.faults();
  }

  /** Keys (`entryKey`) of the entries that hold a pull slot now. */
  pulling(): string[] {
    return this.#inFlight.pullingKeys();
  }

  /** Healthy unless the runtime has been unreachable for longer than the grace period. */
  health(): HealthVerdict {
    return this.#runtime.health();
  }

  #scheduleNext(): void {
    const now = this.#clock.now();
    const idle = this.#book
      .records()
      .map((entry) => entry.key)
      .filter((key) => !this.#inFlight.has(key));
    const retryAt = this.#book.nextRetryAt(idle);
    this.#passIn(Math.min(this.#options.resyncMs, (retryAt ?? Infinity) - now));
  }

  #passIn(delayMs: number): void {
    this.#nextPassAt = this.#clock.now() + delayMs;
    this.#trigger.after(delayMs);
  }

  async #pass(): Promise<void> {
    const wait = this.#start.waitMs();
    if (wait > 0) {
      this.#passIn(wait);
      return;
    }
    const now = this.#clock.now();
    const started = performance.now();
    const idle = this.#book.records().filter((entry) => !this.#inFlight.has(entry.key));
    const quiet = this.#inFlight.idle;
    // Made when an entry is queued: a pass over a warm set makes none.
    const signals = new Map<string, AbortSignal>();
    let work: Promise<EntryResult[]>;
    let pass: StartedPass;
    try {
      pass = await startWarmPass(
        idle.map((entry) => ({ target: entry.target, mayPull: this.#book.isDue(entry.key) })),
        { ...this.#options, slots: this.#slots },
        this.#hooks(signals),
      );
      work = pass.results;
      await this.#runtime.answered();
    } catch (error) {
      this.#passIn(this.#runtime.failed(error));
      this.#options.events?.onPass?.({ seconds: (performance.now() - started) / 1000, ok: false });
      return;
    }
    this.#inFlight.track(
      work
        .then((results) => {
          const pulled = results.some((result) => result.pulls.length > 0 || result.source === "bundle");
          this.#options.onPassSettled?.({
            images: quiet && !pulled ? pass.images : undefined,
            pullsRunning: !this.#inFlight.idle,
          });
        })
        .catch((error: unknown) => {
          this.#options.logger?.error({ err: error }, "warm job failed unexpectedly");
        }),
    );
    const seconds = (performance.now() - started) / 1000;
    // The pass's time is when it read the node's inventory, so a change after that is never
    // reported as seen by it.
    this.#lastPass = { at: now, seconds };
    this.#options.events?.onPass?.({ seconds, ok: true });
    this.#scheduleNext();
  }

  #hooks(signals: Map<string, AbortSignal>): PassHooks {
    return {
      onQueued: (target, tagOnly) => {
        const key = entryKey(target);
        // The set may have changed while the inventory was read.
        const signal =
          this.#book.get(key) === undefined
            ? AbortSignal.abort(new Error("the entry left the desired set"))
            : this.#inFlight.start(key, target);
        signals.set(key, signal);
        this.#apply(key, { type: "queued", tagOnly });
        return signal;
      },
      onPulling: (target) => {
        const key = entryKey(target);
        this.#inFlight.pulling(key);
        this.#apply(key, { type: "pulling" });
      },
      onResult: (result, target) => {
        const key = entryKey(target);
        this.#inFlight.end(key, signals.get(key));
        this.#finished(key, result);
      },
    };
  }

  #finished(key: string, result: EntryResult): void {
    const worked = result.pulls.length > 0 || result.outcome !== "present";
    if (worked) this.#options.events?.onPull?.(result);
    const entry = this.#apply(key, { type: "finished", result });
    if (entry === undefined || !worked) return;
    logFinished(this.#options.logger, entry, result.seconds, this.#clock.now());
    if (entry.status.state === "present") return;
    if (result.errorKind === "unavailable") this.#passIn(this.#runtime.failed(new Error(result.message)));
    // Only an earlier retry moves the next pass: one failure does not scan the whole set.
    else if (entry.retryAt < this.#nextPassAt) this.#passIn(entry.retryAt - this.#clock.now());
  }

  #apply(key: string, event: EntryEvent) {
    const before = this.#book.get(key)?.status.state;
    const entry = this.#book.apply(key, event);
    // Counts are looked at only when an entry turns present and the node was not warm yet.
    if (entry?.status.state === "present" && before !== "present" && this.#timing.waiting()) {
      this.#timing.observe(this.#book.counts());
    }
    if (entry !== undefined && entry.status.state !== before) {
      this.#options.logger?.debug(
        { image: entry.status.image, from: before, to: entry.status.state },
        "entry state changed",
      );
    }
    return entry;
  }
}
