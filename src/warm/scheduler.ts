import PQueue from "p-queue";
import { spreadDelay, type RetryPolicies } from "./backoff.ts";
import type { DiskGuard } from "./disk-guard.ts";
import {
  EntryBook,
  entryKey,
  systemClock,
  type Clock,
  type EntryEvent,
  type EntryFaults,
  type StateCounts,
} from "./entries.ts";
import { GenerationTiming, type GenerationTimes } from "./generation-timing.ts";
import type { EntryResult, TagResolver } from "./execute.ts";
import { startWarmPass, type PassHooks, type SizeLookup, type StartedPass } from "./pass.ts";
import { PassTrigger } from "./pass-trigger.ts";
import type { WarmTarget } from "./plan.ts";
import type { ImageRuntime, PullAuth, RuntimeImage } from "./ports.ts";
import { RuntimeHealth, type HealthVerdict, type RuntimeStatus } from "./runtime-health.ts";
import type { EntryStatus } from "./state.ts";
import { logFinished, type WarmLogger, type WarmLoopEvents } from "./events.ts";
import type { ImageReference } from "../reference/index.ts";

export interface WarmSchedulerOptions {
  readonly runtime: ImageRuntime;
  readonly nodeName: string;
  readonly concurrency: number;
  readonly pullTimeoutMs: number;
  readonly resyncMs: number;
  /** New generations start after `hash(node, generation) mod spreadMs`. */
  readonly spreadMs: number;
  /** How long the runtime may stay unreachable before `health()` fails. */
  readonly runtimeGraceMs: number;
  readonly resolveTag?: TagResolver;
  readonly sizeOf?: SizeLookup;
  readonly authFor?: (reference: ImageReference) => PullAuth | undefined;
  readonly diskGuard?: DiskGuard;
  readonly retry?: RetryPolicies;
  readonly events?: WarmLoopEvents;
  readonly logger?: WarmLogger;
  readonly clock?: Clock;
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

/** Work the scheduler started for one entry: cancellable, and known once it holds a pull slot. */
interface Job {
  readonly controller: AbortController;
  pulling: boolean;
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
  readonly #health: RuntimeHealth;
  readonly #slots: PQueue;
  readonly #jobs = new Map<string, Job>();
  readonly #work = new Set<Promise<unknown>>();
  readonly #trigger: PassTrigger;
  readonly #timing: GenerationTiming;
  #generation = "";
  #notBefore = 0;
  #started = false;
  #lastPass: { at: number; seconds: number } | undefined;
  /** When the trigger's timer runs the next pass. */
  #nextPassAt = Infinity;

  constructor(options: WarmSchedulerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#book = new EntryBook({ clock: this.#clock, ...(options.retry ? { retry: options.retry } : {}) });
    this.#health = new RuntimeHealth({
      endpoint: options.runtime.endpoint,
      graceMs: options.runtimeGraceMs,
      clock: this.#clock,
    });
    this.#slots = new PQueue({ concurrency: options.concurrency });
    this.#timing = new GenerationTiming(this.#clock);
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
    for (const key of this.#book.replace(targets)) {
      const job = this.#jobs.get(key);
      if (job === undefined) continue;
      this.#options.logger?.info(
        { image: key.split("\u0000")[0] },
        "entry left the set; cancelling its pull",
      );
      job.controller.abort(new Error("the entry left the desired set"));
      this.#jobs.delete(key);
    }
    this.#timing.started(generation);
    // The new set may be present already (entries only left it).
    this.#timing.observe(this.#book.counts());
    if (generation !== this.#generation) {
      this.#generation = generation;
      const delay = spreadDelay(this.#options.nodeName, generation, this.#options.spreadMs);
      this.#notBefore = this.#clock.now() + delay;
      if (delay > 0) {
        this.#options.logger?.info({ generation, delayMs: delay }, "spreading the start of a new generation");
      }
    }
    if (this.#started) this.#trigger.request();
  }

  start(): void {
    this.#started = true;
    this.#trigger.request();
  }

  /** Starts no more pulls, lets running ones finish within `graceMs`, then cancels them. */
  async stop(graceMs: number): Promise<void> {
    await this.#trigger.stop();
    const reason = new Error("shutting down");
    for (const job of this.#jobs.values()) if (!job.pulling) job.controller.abort(reason);
    const allDone = Promise.all(this.#work);
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

  status(): WarmStatus {
    const counts = this.#book.counts();
    const last = this.#lastPass;
    return {
      generation: this.#generation,
      warm: counts.present === counts.total,
      entries: this.#book.statuses(),
      counts,
      runtime: this.#health.status(),
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
    return [...this.#jobs].filter(([, job]) => job.pulling).map(([key]) => key);
  }

  /** Healthy unless the runtime has been unreachable for longer than the grace period. */
  health(): HealthVerdict {
    return this.#health.health();
  }

  #scheduleNext(): void {
    const now = this.#clock.now();
    const idle = this.#book
      .records()
      .map((entry) => entry.key)
      .filter((key) => !this.#jobs.has(key));
    const retryAt = this.#book.nextRetryAt(idle);
    this.#passIn(Math.min(this.#options.resyncMs, (retryAt ?? Infinity) - now));
  }

  #passIn(delayMs: number): void {
    this.#nextPassAt = this.#clock.now() + delayMs;
    this.#trigger.after(delayMs);
  }

  async #pass(): Promise<void> {
    const now = this.#clock.now();
    if (now < this.#notBefore) {
      this.#passIn(this.#notBefore - now);
      return;
    }
    const started = performance.now();
    const idle = this.#book.records().filter((entry) => !this.#jobs.has(entry.key));
    const quiet = this.#jobs.size === 0;
    // Made when an entry is queued: a pass over a warm set makes none.
    const controllers = new Map<string, AbortController>();
    let work: Promise<EntryResult[]>;
    let pass: StartedPass;
    try {
      pass = await startWarmPass(
        idle.map((entry) => ({ target: entry.target, mayPull: this.#book.isDue(entry.key) })),
        { ...this.#options, slots: this.#slots },
        this.#hooks(controllers),
      );
      work = pass.results;
      await this.#runtimeAnswered();
    } catch (error) {
      this.#runtimeFailed(error);
      this.#options.events?.onPass?.({ seconds: (performance.now() - started) / 1000, ok: false });
      return;
    }
    const tracked = work
      .then((results) => {
        const pulled = results.some((result) => result.pulls.length > 0);
        this.#options.onPassSettled?.({
          images: quiet && !pulled ? pass.images : undefined,
          pullsRunning: this.#jobs.size > 0,
        });
      })
      .catch((error: unknown) => {
        this.#options.logger?.error({ err: error }, "warm job failed unexpectedly");
      })
      .finally(() => this.#work.delete(tracked));
    this.#work.add(tracked);
    const seconds = (performance.now() - started) / 1000;
    // The pass's time is when it read the node's inventory, so a change after that is never
    // reported as seen by it.
    this.#lastPass = { at: now, seconds };
    this.#options.events?.onPass?.({ seconds, ok: true });
    this.#scheduleNext();
  }

  #hooks(controllers: Map<string, AbortController>): PassHooks {
    return {
      onQueued: (target, tagOnly) => {
        const key = entryKey(target);
        const controller = new AbortController();
        controllers.set(key, controller);
        // The set may have changed while the inventory was read.
        if (this.#book.get(key) === undefined) controller.abort(new Error("the entry left the desired set"));
        else this.#jobs.set(key, { controller, pulling: false });
        this.#apply(key, { type: "queued", tagOnly });
        return controller.signal;
      },
      onPulling: (target) => {
        const key = entryKey(target);
        const job = this.#jobs.get(key);
        if (job !== undefined) job.pulling = true;
        this.#apply(key, { type: "pulling" });
      },
      onResult: (result, target) => {
        const key = entryKey(target);
        const controller = controllers.get(key);
        if (controller !== undefined && this.#jobs.get(key)?.controller === controller)
          this.#jobs.delete(key);
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
    if (result.errorKind === "unavailable") this.#runtimeFailed(new Error(result.message));
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

  async #runtimeAnswered(): Promise<void> {
    if (!this.#health.answered()) return;
    const version = await this.#options.runtime.version().catch(() => undefined);
    this.#health.recordVersion(version);
    this.#options.logger?.info(
      { endpoint: this.#options.runtime.endpoint, runtime: version },
      "container runtime reachable",
    );
  }

  #runtimeFailed(error: unknown): void {
    const { retryInMs, news } = this.#health.failed(error);
    if (news) {
      this.#options.logger?.warn(
        { endpoint: this.#options.runtime.endpoint, error: this.#health.status().error },
        "container runtime unreachable",
      );
    }
    this.#passIn(retryInMs);
  }
}
