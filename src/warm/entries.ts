import type { FailureKind } from "../failure/index.ts";
import { backoffDelay, DEFAULT_RETRY, type BackoffPolicy, type RetryPolicies } from "./backoff.ts";
import type { EntryResult } from "./execute.ts";
import type { WarmTarget } from "./plan.ts";
import { ENTRY_STATES, type EntryState, type EntryStatus } from "./state.ts";

/** Where time comes from; tests use fake timers, which replace `Date.now`. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** One entry of the desired set: what the status shows, and when it may be pulled again. */
export interface EntryRecord {
  readonly key: string;
  readonly target: WarmTarget;
  readonly status: EntryStatus;
  /** Epoch milliseconds before which the entry is not pulled again; 0 when it may be now. */
  readonly retryAt: number;
  /**
   * Epoch milliseconds of the first of the drifted results in a row: kept while the entry is
   * checked again, cleared by any other result. Not part of the status document.
   */
  readonly driftedSince?: number | undefined;
}

/**
 * What can happen to an entry: it waits for a pull slot (`tagOnly` when its image is on the node
 * and only its tag needs syncing), gets one, or its work ends.
 */
export type EntryEvent =
  | { readonly type: "queued"; readonly tagOnly: boolean }
  | { readonly type: "pulling" }
  | { readonly type: "finished"; readonly result: EntryResult };

export interface TransitionContext {
  readonly now: number;
  readonly retry: RetryPolicies;
  readonly random: () => number;
}

/**
 * How entries are told apart, everywhere (scheduler, pins, progress, opt-outs): by the image as
 * the set writes it and the intended digest, so the same image at another digest is other work.
 */
export function entryKey(entry: Pick<WarmTarget, "image" | "digest">): string {
  return `${entry.image}\u0000${entry.digest ?? ""}`;
}

function initialEntry(target: WarmTarget): EntryRecord {
  return {
    key: entryKey(target),
    target,
    retryAt: 0,
    status: {
      image: target.image,
      digest: target.digest ?? null,
      state: "pending",
      imageId: null,
      size: null,
      attempts: 0,
      lastPullSeconds: null,
      errorKind: null,
      message: null,
      nextRetryAt: null,
      registryDigest: null,
      source: null,
    },
  };
}

export function isDue(entry: EntryRecord, now: number): boolean {
  return entry.retryAt <= now;
}

/**
 * The entry state machine, free of I/O: `queued` makes the entry pending, unless it is present
 * and only its tag is synced (its image stays on the node meanwhile); `pulling` marks the pull;
 * a finished attempt either makes the entry present (attempts reset) or counts a failed attempt
 * and sets the next retry from the policy of what went wrong: drift has its own pace, every
 * failure kind its own.
 */
export function transition(entry: EntryRecord, event: EntryEvent, context: TransitionContext): EntryRecord {
  // An event that changes nothing keeps the record, so every pass over a warm set does not
  // make a new one per entry (and readers can tell "unchanged" by identity).
  // Every argument given: a default would also stand in for an explicit `undefined` (clear).
  const update = (
    changes: Partial<EntryStatus>,
    retryAt: number,
    driftedSince: number | undefined,
  ): EntryRecord =>
    retryAt === entry.retryAt &&
    driftedSince === entry.driftedSince &&
    (Object.keys(changes) as Array<keyof EntryStatus>).every((field) =>
      Object.is(entry.status[field], changes[field]),
    )
      ? entry
      : { ...entry, retryAt, driftedSince, status: { ...entry.status, ...changes } };
  if (event.type === "queued") {
    return event.tagOnly && entry.status.state === "present"
      ? entry
      : update({ state: "pending" }, entry.retryAt, entry.driftedSince);
  }
  if (event.type === "pulling") return update({ state: "pulling" }, entry.retryAt, entry.driftedSince);

  const { result } = event;
  if (result.outcome === "present" || result.outcome === "pulled") {
    return update(
      {
        state: "present",
        digest: result.digest ?? null,
        imageId: result.imageId ?? null,
        size: result.size ?? null,
        attempts: 0,
        lastPullSeconds: result.pulls.length > 0 ? result.seconds : entry.status.lastPullSeconds,
        errorKind: null,
        message: null,
        nextRetryAt: null,
        registryDigest: null,
        source: result.source ?? entry.status.source,
      },
      0,
      undefined,
    );
  }
  const attempts = entry.status.attempts + 1;
  const drifted = result.outcome === "drifted";
  const kind = drifted ? null : (result.errorKind ?? "runtime");
  const policy: BackoffPolicy = kind === null ? context.retry.drift : context.retry.failure[kind];
  const retryAt = context.now + backoffDelay(policy, attempts, context.random);
  return update(
    {
      state: result.outcome,
      attempts,
      errorKind: kind,
      message: result.message ?? (drifted ? "tag drifted" : "pull failed"),
      nextRetryAt: new Date(retryAt).toISOString(),
      registryDigest: result.registryDigest ?? null,
    },
    retryAt,
    drifted ? (entry.driftedSince ?? context.now) : undefined,
  );
}

/** How many entries are in each state, and in all. */
export type StateCounts = Readonly<Record<EntryState | "total", number>>;

/** What is wrong with the set, for metrics: counts by kind and drifts, not per-entry statuses. */
export interface EntryFaults {
  /**
   * Entries whose last attempt failed or was blocked, by failure kind. An entry keeps its kind
   * while it is tried again (pending, pulling), so a retry does not hide the failure.
   */
  readonly failing: Readonly<Partial<Record<FailureKind, number>>>;
  /** Entries drifted since (epoch ms), longest drifted first; kept while they are checked again. */
  readonly drifted: ReadonlyArray<{ readonly image: string; readonly since: number }>;
}

interface BookViews {
  readonly records: readonly EntryRecord[];
  readonly statuses: readonly EntryStatus[];
  readonly faults: EntryFaults;
}

const noEntries = (): Record<EntryState, number> =>
  Object.fromEntries(ENTRY_STATES.map((state) => [state, 0])) as Record<EntryState, number>;

/**
 * The desired set's entries, in declaration order, moved through `transition` by one clock.
 * Reads are cheap at any size: the lists are made once per change of the book, the counts are
 * kept as entries move (the scheduler reads them after every entry that turns present, so
 * counting by a walk would make a pass over a warm node quadratic), and an event that changes
 * nothing is no change.
 */
export class EntryBook {
  readonly #clock: Clock;
  readonly #retry: RetryPolicies;
  readonly #random: () => number;
  #entries = new Map<string, EntryRecord>();
  #views: BookViews | undefined;
  #tally = noEntries();
  #counts: StateCounts | undefined;

  constructor(options: { clock?: Clock; retry?: RetryPolicies; random?: () => number } = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.#random = options.random ?? Math.random;
  }

  /** Takes a new desired set; entries that stay keep their state. Returns the keys that left. */
  replace(targets: readonly WarmTarget[]): string[] {
    const next = new Map<string, EntryRecord>();
    for (const target of targets) {
      const key = entryKey(target);
      next.set(key, this.#entries.get(key) ?? initialEntry(target));
    }
    const left = [...this.#entries.keys()].filter((key) => !next.has(key));
    this.#entries = next;
    this.#tally = noEntries();
    for (const entry of next.values()) this.#tally[entry.status.state] += 1;
    this.#counts = undefined;
    this.#changed();
    return left;
  }

  /** Applies an event; events for entries that left the set are dropped. */
  apply(key: string, event: EntryEvent): EntryRecord | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const next = transition(entry, event, {
      now: this.#clock.now(),
      retry: this.#retry,
      random: this.#random,
    });
    if (next !== entry) {
      this.#entries.set(key, next);
      if (next.status.state !== entry.status.state) {
        this.#tally[entry.status.state] -= 1;
        this.#tally[next.status.state] += 1;
        this.#counts = undefined;
      }
      this.#changed();
    }
    return next;
  }

  /**
   * Makes entries that failed with `kind` due now (something they lacked may have arrived, such
   * as a bundle); they keep their state until tried. Returns how many were waiting.
   */
  retryNow(kind: FailureKind): number {
    const now = this.#clock.now();
    let count = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.status.errorKind !== kind || entry.retryAt <= now) continue;
      this.#entries.set(key, { ...entry, retryAt: 0, status: { ...entry.status, nextRetryAt: null } });
      count += 1;
    }
    if (count > 0) this.#changed();
    return count;
  }

  get(key: string): EntryRecord | undefined {
    return this.#entries.get(key);
  }

  /** The same array until the book changes. */
  records(): readonly EntryRecord[] {
    return this.#current().records;
  }

  isDue(key: string): boolean {
    const entry = this.#entries.get(key);
    return entry !== undefined && isDue(entry, this.#clock.now());
  }

  /** The earliest future retry among `keys`, when one is pending. */
  nextRetryAt(keys: Iterable<string>): number | undefined {
    const now = this.#clock.now();
    let next: number | undefined;
    for (const key of keys) {
      const retryAt = this.#entries.get(key)?.retryAt ?? 0;
      if (retryAt > now) next = Math.min(next ?? retryAt, retryAt);
    }
    return next;
  }

  /** The same array until the book changes. */
  statuses(): readonly EntryStatus[] {
    return this.#current().statuses;
  }

  /** The same object until an entry changes state or the set changes. */
  counts(): StateCounts {
    this.#counts ??= { ...this.#tally, total: this.#entries.size };
    return this.#counts;
  }

  /** The same object until the book changes. */
  faults(): EntryFaults {
    return this.#current().faults;
  }

  #changed(): void {
    this.#views = undefined;
  }

  #current(): BookViews {
    if (this.#views !== undefined) return this.#views;
    const records = [...this.#entries.values()];
    const failing: Partial<Record<FailureKind, number>> = {};
    const drifted: Array<{ image: string; since: number }> = [];
    for (const { status, driftedSince } of records) {
      if (status.errorKind !== null) failing[status.errorKind] = (failing[status.errorKind] ?? 0) + 1;
      if (driftedSince !== undefined) drifted.push({ image: status.image, since: driftedSince });
    }
    drifted.sort((a, b) => a.since - b.since || (a.image < b.image ? -1 : a.image > b.image ? 1 : 0));
    this.#views = {
      records,
      statuses: records.map((entry) => entry.status),
      faults: { failing, drifted },
    };
    return this.#views;
  }
}
