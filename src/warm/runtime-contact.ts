import { systemClock, type Clock } from "./entries.ts";
import type { WarmLogger } from "./events.ts";
import type { ImageRuntime, RuntimeVersion } from "./ports.ts";
import { RuntimeHealth, type HealthVerdict, type RuntimeStatus } from "./runtime-health.ts";

/**
 * The scheduler's contact with the runtime: every pass reports whether the runtime answered.
 * On (re)connection its version is asked again; a change of reachability is logged once, not
 * per pass; a failure says when to try again.
 */
export class RuntimeContact {
  readonly #runtime: ImageRuntime;
  readonly #health: RuntimeHealth;
  readonly #logger: WarmLogger | undefined;
  readonly #onReachable: ((version: RuntimeVersion | undefined) => void) | undefined;

  constructor(options: {
    runtime: ImageRuntime;
    graceMs: number;
    clock?: Clock;
    logger?: WarmLogger;
    onRuntimeReachable?: (version: RuntimeVersion | undefined) => void;
  }) {
    this.#runtime = options.runtime;
    this.#logger = options.logger;
    this.#onReachable = options.onRuntimeReachable;
    this.#health = new RuntimeHealth({
      endpoint: options.runtime.endpoint,
      graceMs: options.graceMs,
      clock: options.clock ?? systemClock,
    });
  }

  /** The runtime answered a pass. */
  async answered(): Promise<void> {
    if (!this.#health.answered()) return;
    const version = await this.#runtime.version().catch(() => undefined);
    this.#health.recordVersion(version);
    this.#logger?.info({ endpoint: this.#runtime.endpoint, runtime: version }, "container runtime reachable");
    this.#onReachable?.(version);
  }

  /** The runtime could not be reached; returns how long to wait before the next pass. */
  failed(error: unknown): number {
    const { retryInMs, news } = this.#health.failed(error);
    if (news) {
      this.#logger?.warn(
        { endpoint: this.#runtime.endpoint, error: this.#health.status().error },
        "container runtime unreachable",
      );
    }
    return retryInMs;
  }

  status(): RuntimeStatus {
    return this.#health.status();
  }

  /** Healthy unless the runtime has been unreachable for longer than the grace period. */
  health(): HealthVerdict {
    return this.#health.health();
  }
}
