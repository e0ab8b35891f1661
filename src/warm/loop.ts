import PQueue from "p-queue";
import type { ImageRuntime, PullAuth, RuntimeVersion } from "./ports.ts";
import type { FailureKind } from "../failure/index.ts";
import type { ImageReference } from "../reference/index.ts";
import { backoffDelay, DEFAULT_BACKOFF, spreadDelay, type BackoffPolicy } from "./backoff.ts";
import type { DiskGuard } from "./disk-guard.ts";
import { executeEntryPlan, type EntryResult } from "./execute.ts";
import { ImageInventory } from "./inventory.ts";
import { digestName, effectiveTag, planEntry, tagName, type EntryPlan, type WarmTarget } from "./plan.ts";
import type { EntryState, EntryStatus } from "./state.ts";

export interface RegistryAnswer {
  readonly digest: string;
  /** Bytes the node's platform will pull, when the registry told us. */
  readonly platformSize: number | undefined;
}

export interface WarmLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
  debug(object: object, message?: string): void;
}

export interface WarmLoopEvents {
  onPull?(result: EntryResult): void;
  onPass?(pass: { readonly seconds: number; readonly ok: boolean }): void;
}

export interface WarmLoopOptions {
  readonly runtime: ImageRuntime;
  readonly nodeName: string;
  readonly concurrency: number;
  readonly pullTimeoutMs: number;
  readonly resyncMs: number;
  /** New generations start after `hash(node, generation) mod spreadMs`. */
  readonly spreadMs: number;
  readonly resolve?: (reference: ImageReference, signal?: AbortSignal) => Promise<RegistryAnswer>;
  readonly authFor?: (reference: ImageReference) => PullAuth | undefined;
  readonly diskGuard?: DiskGuard;
  readonly backoff?: Readonly<Record<FailureKind, BackoffPolicy>>;
  readonly events?: WarmLoopEvents;
  readonly logger?: WarmLogger;
}

export interface RuntimeStatus {
  readonly endpoint: string;
  readonly reachable: boolean;
  readonly lastContactAt: string | null;
  readonly error: string | null;
  readonly name: string | null;
  readonly version: string | null;
  readonly apiVersion: string | null;
}

export interface WarmLoopStatus {
  readonly generation: string;
  readonly warm: boolean;
  readonly entries: EntryStatus[];
  readonly runtime: RuntimeStatus;
  readonly lastPass: { readonly at: string; readonly seconds: number } | null;
}

interface EntryRecord {
  readonly target: WarmTarget;
  status: EntryStatus;
  /** Set while the entry is queued or pulling; aborted when it leaves the set. */
  job: AbortController | undefined;
  nextRetryAt: number;
}

const SIZE_LOOKUP_TIMEOUT_MS = 10_000;
const RECONNECT: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000 };

function initialStatus(target: WarmTarget): EntryStatus {
  return {
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
  };
}

/** Entries with the same image but another intended digest are different work. */
function recordKey(target: WarmTarget): string {
  return `${target.image}\u0000${target.digest ?? ""}`;
}

/**
 * Keeps a desired set warm on this node: one ListImages per pass, pulls only for what the plan
 * says is missing, a concurrency limit, per-entry backoff, cancellation when entries leave the
 * set, and survival of runtime restarts.
 */
export class WarmLoop {
  readonly #options: WarmLoopOptions;
  readonly #queue: PQueue;
  readonly #backoff: Readonly<Record<FailureKind, BackoffPolicy>>;
  #records = new Map<string, EntryRecord>();
  #generation = "";
  #notBefore = 0;
  #timer: NodeJS.Timeout | undefined;
  #passing: Promise<void> | undefined;
  #passAgain = false;
  #stopped = false;
  #started = false;
  #reconnectAttempts = 0;
  #runtime: {
    reachable: boolean;
    lastContact: number | undefined;
    error: string | null;
    version: RuntimeVersion | undefined;
  } = { reachable: false, lastContact: undefined, error: null, version: undefined };
  #lastPass: { at: number; seconds: number } | undefined;

  constructor(options: WarmLoopOptions) {
    this.#options = options;
    this.#queue = new PQueue({ concurrency: options.concurrency });
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  get generation(): string {
    return this.#generation;
  }

  /** Replaces the desired set. Entries that left it are cancelled; new ones start pending. */
  setDesired(targets: readonly WarmTarget[], generation: string): void {
    const next = new Map<string, EntryRecord>();
    for (const target of targets) {
      const key = recordKey(target);
      next.set(
        key,
        this.#records.get(key) ?? { target, status: initialStatus(target), job: undefined, nextRetryAt: 0 },
      );
    }
    for (const [key, record] of this.#records) {
      if (!next.has(key) && record.job !== undefined) {
        this.#options.logger?.info({ image: record.target.image }, "entry left the set; cancelling its pull");
        record.job.abort(new Error(`${record.target.image} left the desired set`));
      }
    }
    this.#records = next;
    if (generation !== this.#generation) {
      this.#generation = generation;
      const delay = spreadDelay(this.#options.nodeName, generation, this.#options.spreadMs);
      this.#notBefore = Date.now() + delay;
      if (delay > 0)
        this.#options.logger?.info({ generation, delayMs: delay }, "spreading the start of a new generation");
    }
    if (this.#started) this.requestPass();
  }

  start(): void {
    this.#started = true;
    this.requestPass();
  }

  /** Runs a pass now, or right after the one in progress. */
  requestPass(): void {
    if (this.#stopped) return;
    if (this.#passing !== undefined) {
      this.#passAgain = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#passing = this.#pass()
      .catch((error: unknown) => {
        this.#options.logger?.error({ err: error }, "warm pass failed unexpectedly");
        this.#schedule(this.#options.resyncMs);
      })
      .finally(() => {
        this.#passing = undefined;
        if (this.#passAgain) {
          this.#passAgain = false;
          this.requestPass();
        }
      });
  }

  /** Resolves when the pass in progress (if any) has finished. */
  async settled(): Promise<void> {
    await this.#passing;
  }

  /** Stops starting pulls, lets running ones finish within `graceMs`, then cancels them. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#queue.clear();
    await this.#passing;
    const idle = this.#queue.onIdle();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace">((resolve) => {
      timer = setTimeout(() => {
        resolve("grace");
      }, graceMs);
    });
    if ((await Promise.race([idle, graceOver])) === "grace") {
      for (const record of this.#records.values()) record.job?.abort(new Error("shutting down"));
      await idle;
    }
    clearTimeout(timer);
  }

  status(): WarmLoopStatus {
    const entries = [...this.#records.values()].map((record) => record.status);
    const runtime = this.#runtime;
    return {
      generation: this.#generation,
      warm: entries.every((entry) => entry.state === "present"),
      entries,
      runtime: {
        endpoint: this.#options.runtime.endpoint,
        reachable: runtime.reachable,
        lastContactAt: runtime.lastContact === undefined ? null : new Date(runtime.lastContact).toISOString(),
        error: runtime.error,
        name: runtime.version?.runtimeName ?? null,
        version: runtime.version?.runtimeVersion ?? null,
        apiVersion: runtime.version?.runtimeApiVersion ?? null,
      },
      lastPass:
        this.#lastPass === undefined
          ? null
          : { at: new Date(this.#lastPass.at).toISOString(), seconds: this.#lastPass.seconds },
    };
  }

  /** Milliseconds since the runtime last answered, or undefined when it never has. */
  runtimeSilenceMs(): number | undefined {
    const last = this.#runtime.lastContact;
    return last === undefined ? undefined : Date.now() - last;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => {
        this.requestPass();
      },
      Math.max(0, delayMs),
    );
    this.#timer.unref();
  }

  async #pass(): Promise<void> {
    const now = Date.now();
    if (now < this.#notBefore) {
      this.#schedule(this.#notBefore - now);
      return;
    }
    const started = performance.now();
    let inventory: ImageInventory;
    try {
      inventory = new ImageInventory(await this.#options.runtime.listImages());
      await this.#runtimeAnswered();
    } catch (error) {
      this.#runtimeFailed(error);
      this.#options.events?.onPass?.({ seconds: (performance.now() - started) / 1000, ok: false });
      return;
    }
    for (const record of this.#records.values()) {
      if (record.job !== undefined) continue;
      const plan = planEntry(record.target, inventory);
      if (plan.actions.length === 0) {
        this.#markPresent(record, plan, inventory);
      } else if (record.nextRetryAt <= now) {
        this.#enqueue(record, plan);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    this.#lastPass = { at: Date.now(), seconds };
    this.#options.events?.onPass?.({ seconds, ok: true });
    this.#scheduleNext();
  }

  #scheduleNext(): void {
    const now = Date.now();
    let next = now + this.#options.resyncMs;
    for (const record of this.#records.values()) {
      if (record.job === undefined && record.nextRetryAt > now) next = Math.min(next, record.nextRetryAt);
    }
    this.#schedule(next - now);
  }

  async #runtimeAnswered(): Promise<void> {
    const wasDown = !this.#runtime.reachable;
    this.#runtime.reachable = true;
    this.#runtime.lastContact = Date.now();
    this.#runtime.error = null;
    this.#reconnectAttempts = 0;
    if (wasDown || this.#runtime.version === undefined) {
      this.#runtime.version = await this.#options.runtime.version().catch(() => undefined);
      this.#options.logger?.info(
        { endpoint: this.#options.runtime.endpoint, runtime: this.#runtime.version },
        "container runtime reachable",
      );
    }
  }

  #runtimeFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.#runtime.reachable || this.#runtime.error === null) {
      this.#options.logger?.warn(
        { endpoint: this.#options.runtime.endpoint, error: message },
        "container runtime unreachable",
      );
    }
    this.#runtime.reachable = false;
    this.#runtime.error = message;
    this.#reconnectAttempts += 1;
    this.#schedule(backoffDelay(RECONNECT, this.#reconnectAttempts));
  }

  #markPresent(record: EntryRecord, plan: EntryPlan, inventory: ImageInventory): void {
    const { reference, digest } = record.target;
    const tag = effectiveTag(reference);
    const name = digest !== undefined ? digestName(reference, digest) : tagName(reference, tag ?? "latest");
    const image = inventory.find(name);
    this.#update(record, {
      state: "present",
      digest: digest ?? plan.localDigest ?? null,
      imageId: image?.id ?? null,
      size: image?.size ?? null,
      attempts: 0,
      errorKind: null,
      message: null,
      nextRetryAt: null,
      registryDigest: null,
    });
    record.nextRetryAt = 0;
  }

  #update(record: EntryRecord, changes: Partial<EntryStatus>): void {
    const before = record.status.state;
    record.status = { ...record.status, ...changes };
    if (changes.state !== undefined && changes.state !== before) {
      this.#options.logger?.debug(
        { image: record.target.image, from: before, to: changes.state },
        "entry state changed",
      );
    }
  }

  #enqueue(record: EntryRecord, plan: EntryPlan): void {
    const job = new AbortController();
    record.job = job;
    if (record.status.state !== "present") this.#update(record, { state: "pending" });
    void this.#queue
      .add(async () => {
        if (job.signal.aborted || this.#stopped) return;
        await this.#work(record, plan, job.signal);
      })
      .catch((error: unknown) => {
        this.#options.logger?.error(
          { err: error, image: record.target.image },
          "warm job failed unexpectedly",
        );
      })
      .finally(() => {
        if (record.job === job) record.job = undefined;
      });
  }

  async #work(record: EntryRecord, plan: EntryPlan, signal: AbortSignal): Promise<void> {
    const { target } = record;
    this.#update(record, { state: "pulling" });
    const needsContent = plan.actions.some((action) => action.type !== "sync-tag");
    if (needsContent && this.#options.diskGuard !== undefined) {
      const size = await this.#expectedSize(
        { ...target.reference, digest: target.digest ?? target.reference.digest },
        signal,
      );
      const verdict = await this.#options.diskGuard.check(size);
      if (!verdict.ok) {
        this.#fail(record, "blocked", "disk", verdict.message);
        return;
      }
    }
    const result = await executeEntryPlan(plan, {
      runtime: this.#options.runtime,
      pullTimeoutMs: this.#options.pullTimeoutMs,
      signal,
      ...(this.#options.resolve
        ? { resolveTag: async (reference, tagSignal) => (await this.#resolve(reference, tagSignal)).digest }
        : {}),
      ...(this.#options.authFor ? { authFor: this.#options.authFor } : {}),
    });
    if (signal.aborted) return;
    this.#options.events?.onPull?.(result);
    if (result.outcome === "present" || result.outcome === "pulled") {
      this.#update(record, {
        state: "present",
        digest: result.digest ?? null,
        imageId: result.imageId ?? null,
        size: result.size ?? null,
        attempts: 0,
        lastPullSeconds: result.pulls.length > 0 ? result.seconds : record.status.lastPullSeconds,
        errorKind: null,
        message: null,
        nextRetryAt: null,
        registryDigest: null,
      });
      record.nextRetryAt = 0;
      if (result.pulls.length > 0) {
        this.#options.logger?.info(
          { image: target.image, digest: result.digest, seconds: result.seconds },
          "pulled",
        );
      }
      return;
    }
    if (result.outcome === "drifted") {
      this.#fail(record, "drifted", null, result.message ?? "tag drifted", result.registryDigest);
      return;
    }
    this.#fail(record, "failed", result.errorKind ?? "runtime", result.message ?? "pull failed");
    if (result.errorKind === "unavailable") this.#runtimeFailed(new Error(result.message));
  }

  async #expectedSize(reference: ImageReference, signal: AbortSignal): Promise<number | undefined> {
    if (this.#options.resolve === undefined) return undefined;
    try {
      // The size only sharpens the disk guard: do not let a slow registry hold the pull up.
      const deadline = AbortSignal.any([signal, AbortSignal.timeout(SIZE_LOOKUP_TIMEOUT_MS)]);
      return (await this.#resolve(reference, deadline)).platformSize;
    } catch {
      // The pull itself reports registry trouble.
      return undefined;
    }
  }

  #resolve(reference: ImageReference, signal?: AbortSignal): Promise<RegistryAnswer> {
    const resolve = this.#options.resolve;
    if (resolve === undefined) return Promise.reject(new Error("no registry client"));
    return resolve(reference, signal);
  }

  #fail(
    record: EntryRecord,
    state: Extract<EntryState, "failed" | "blocked" | "drifted">,
    kind: FailureKind | null,
    message: string,
    registryDigest?: string,
  ): void {
    const attempts = record.status.attempts + 1;
    const policy = this.#backoff[kind ?? "not_found"];
    const delay = backoffDelay(policy, attempts);
    record.nextRetryAt = Date.now() + delay;
    this.#update(record, {
      state,
      attempts,
      errorKind: kind,
      message,
      nextRetryAt: new Date(record.nextRetryAt).toISOString(),
      registryDigest: registryDigest ?? null,
    });
    this.#options.logger?.warn(
      { image: record.target.image, state, kind, attempts, retryInMs: delay, error: message },
      `entry ${state}`,
    );
    this.#scheduleNext();
  }
}
