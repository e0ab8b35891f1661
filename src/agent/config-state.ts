import { ungatedOf } from "../gate/index.ts";
import type { DesiredState } from "../imageset/index.ts";
import { optedOutOf } from "../pins/index.ts";
import type { WarmLogger } from "../warm/index.ts";

/** The last good image set, what it opts out of pinning and gating, and the last reload's error. */
export class ConfigState {
  #desired: DesiredState;
  #optedOut: ReadonlySet<string>;
  #ungated: ReadonlySet<string>;
  #error: { message: string; at: string } | null = null;

  constructor(initial: DesiredState) {
    this.#desired = initial;
    this.#optedOut = optedOutOf(initial.entries);
    this.#ungated = ungatedOf(initial.entries);
  }

  get desired(): DesiredState {
    return this.#desired;
  }

  /** Entries not to pin (`pin: false`). */
  get optedOut(): ReadonlySet<string> {
    return this.#optedOut;
  }

  /** Entries the readiness gate does not wait for (`gate: false`). */
  get ungated(): ReadonlySet<string> {
    return this.#ungated;
  }

  /** Why the last version of the files was refused; null once a good one is read. */
  get error(): { message: string; at: string } | null {
    return this.#error;
  }

  changed(next: DesiredState): void {
    this.#desired = next;
    this.#optedOut = optedOutOf(next.entries);
    this.#ungated = ungatedOf(next.entries);
    this.#error = null;
  }

  failed(message: string, at: Date = new Date()): void {
    this.#error = { message, at: at.toISOString() };
  }
}

export interface ReloadTargets {
  readonly config: ConfigState;
  readonly metrics: { configReloaded(generation: string): void; configFailed(): void };
  readonly logger: Pick<WarmLogger, "info" | "error">;
  /** Hands the scheduler the new set. */
  readonly setDesired: (next: DesiredState) => void;
}

/**
 * What the agent does when the ImageSet files change: a good new set takes force, a bad one is
 * reported and the last good one kept.
 */
export function reloadHandlers({ config, metrics, logger, setDesired }: ReloadTargets): {
  onChange(next: DesiredState): void;
  onError(error: Error): void;
} {
  return {
    onChange(next) {
      config.changed(next);
      metrics.configReloaded(next.generation);
      logger.info({ generation: next.generation, entries: next.entries.length }, "image set changed");
      setDesired(next);
    },
    onError(error) {
      config.failed(error.message);
      metrics.configFailed();
      logger.error({ error: error.message }, "new image set is invalid; keeping the last good one");
    },
  };
}
