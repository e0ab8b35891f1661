import { backoffDelay, type BackoffPolicy } from "./backoff.ts";
import { systemClock, type Clock } from "./entries.ts";
import type { RuntimeVersion } from "./ports.ts";
import { errorMessage } from "../failure/index.ts";

/** The runtime as `/v1/status` reports it. */
export interface RuntimeStatus {
  readonly endpoint: string;
  readonly reachable: boolean;
  readonly lastContactAt: string | null;
  readonly error: string | null;
  readonly name: string | null;
  readonly version: string | null;
  readonly apiVersion: string | null;
}

export interface HealthVerdict {
  readonly ok: boolean;
  readonly reason: string;
}

/** Reconnection pace while the runtime is down: quick at first, a restart takes seconds. */
export const RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000 };

/**
 * The one place that decides whether the runtime is reachable and whether the agent is healthy:
 * calls report answers and failures here; an unreachable runtime turns the agent unhealthy only
 * after `graceMs` of silence (counted from construction when it never answered), so a runtime
 * restart does not get the pod restarted too.
 */
export class RuntimeHealth {
  readonly #endpoint: string;
  readonly #graceMs: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #since: number;
  #reachable = false;
  #lastContact: number | undefined;
  #error: string | null = null;
  #version: RuntimeVersion | undefined;
  #failures = 0;

  constructor(options: { endpoint: string; graceMs: number; clock?: Clock; random?: () => number }) {
    this.#endpoint = options.endpoint;
    this.#graceMs = options.graceMs;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#since = this.#clock.now();
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  /** The runtime answered. True when it was not known reachable: ask its version again. */
  answered(): boolean {
    const recovered = !this.#reachable || this.#version === undefined;
    this.#reachable = true;
    this.#lastContact = this.#clock.now();
    this.#error = null;
    this.#failures = 0;
    return recovered;
  }

  recordVersion(version: RuntimeVersion | undefined): void {
    this.#version = version;
  }

  /**
   * A call could not reach the runtime. Returns how long to wait before trying again, and
   * whether this failure is news (the first since it was reachable, or the first at all).
   */
  failed(error: unknown): { retryInMs: number; news: boolean } {
    const news = this.#reachable || this.#error === null;
    this.#reachable = false;
    this.#error = errorMessage(error);
    this.#failures += 1;
    return { retryInMs: backoffDelay(RECONNECT_BACKOFF, this.#failures, this.#random), news };
  }

  status(): RuntimeStatus {
    const last = this.#lastContact;
    return {
      endpoint: this.#endpoint,
      reachable: this.#reachable,
      lastContactAt: last === undefined ? null : new Date(last).toISOString(),
      error: this.#error,
      name: this.#version?.runtimeName ?? null,
      version: this.#version?.runtimeVersion ?? null,
      apiVersion: this.#version?.runtimeApiVersion ?? null,
    };
  }

  health(): HealthVerdict {
    if (this.#reachable) return { ok: true, reason: "runtime reachable" };
    const silentMs = this.#clock.now() - (this.#lastContact ?? this.#since);
    if (silentMs <= this.#graceMs) return { ok: true, reason: "runtime not reachable yet, within grace" };
    return {
      ok: false,
      reason: `runtime ${this.#endpoint} unreachable for ${Math.round(silentMs / 1000)}s`,
    };
  }
}
