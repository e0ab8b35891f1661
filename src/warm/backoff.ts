import type { FailureKind } from "../failure/index.ts";

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

/**
 * Retry pace by failure kind: what a retry cannot fix soon (a missing tag, bad credentials, an
 * invalid name, a full disk) is retried slowly; network trouble quickly. What the runtime cannot
 * do at all is retried slowest: only a runtime upgrade, which restarts it, can change the answer.
 */
export const DEFAULT_BACKOFF: Readonly<Record<FailureKind, BackoffPolicy>> = {
  network: { initialMs: 2_000, maxMs: 5 * 60_000 },
  timeout: { initialMs: 5_000, maxMs: 10 * 60_000 },
  unavailable: { initialMs: 1_000, maxMs: 30_000 },
  rate_limited: { initialMs: 30_000, maxMs: 15 * 60_000 },
  tls: { initialMs: 60_000, maxMs: 30 * 60_000 },
  runtime: { initialMs: 10_000, maxMs: 10 * 60_000 },
  disk: { initialMs: 30_000, maxMs: 5 * 60_000 },
  not_found: { initialMs: 60_000, maxMs: 30 * 60_000 },
  auth: { initialMs: 60_000, maxMs: 30 * 60_000 },
  invalid: { initialMs: 5 * 60_000, maxMs: 60 * 60_000 },
  unsupported: { initialMs: 15 * 60_000, maxMs: 2 * 60 * 60_000 },
};

/**
 * A drifted entry is waiting for a person (re-lock the set) or for the tag to move back. Checking
 * costs one manifest HEAD, which registries do not count as a pull, so it is asked again
 * moderately often instead of at a missing image's slow pace.
 */
const DRIFT_BACKOFF: BackoffPolicy = { initialMs: 30_000, maxMs: 10 * 60_000 };

/** Every retry pace an entry can be on. */
export interface RetryPolicies {
  readonly failure: Readonly<Record<FailureKind, BackoffPolicy>>;
  readonly drift: BackoffPolicy;
}

export const DEFAULT_RETRY: RetryPolicies = { failure: DEFAULT_BACKOFF, drift: DRIFT_BACKOFF };

/** Exponential with full jitter in the upper half, capped: attempt 1 waits about `initialMs`. */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/** `hash(node, generation) mod spread`: nodes start a new generation at different moments. */
export function spreadDelay(nodeName: string, generation: string, spreadMs: number): number {
  if (spreadMs <= 0) return 0;
  let hash = 2166136261;
  for (const char of `${nodeName}\u0000${generation}`) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return hash % spreadMs;
}
