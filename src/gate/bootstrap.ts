import type { GateReason, GateVerdict } from "./verdict.ts";

/** What happens to a gate still closed at its deadline: the operator's choice. */
export type DeadlineAction = "open" | "hold";

export interface GatePolicy {
  /** From the agent's start; null for none (the gate waits for warm images however long). */
  readonly deadlineMs: number | null;
  readonly atDeadline: DeadlineAction;
}

export interface GateState {
  readonly open: boolean;
  readonly reason: GateReason;
  readonly message: string;
  /** When it opened; null while closed. */
  readonly openedAt: Date | null;
  /** When the deadline falls; null without one. */
  readonly deadlineAt: Date | null;
}

/**
 * The gate in bootstrap mode: closed from the agent's start until the node's gated images are
 * warm (or the deadline opens it), then open for good — a later generation, a failed pull or a
 * drifted tag never closes it again, so a serving node is never re-tainted.
 */
export class BootstrapGate {
  readonly #policy: GatePolicy;
  readonly #deadlineAt: Date | null;
  #opened: GateState | undefined;

  constructor(policy: GatePolicy, startedAt: Date) {
    this.#policy = policy;
    this.#deadlineAt = policy.deadlineMs === null ? null : new Date(startedAt.getTime() + policy.deadlineMs);
  }

  /** The gate's state given the node's verdict now. */
  update(verdict: GateVerdict, now: Date): GateState {
    if (this.#opened !== undefined) return this.#opened;
    const deadlineAt = this.#deadlineAt;
    if (verdict.open) return this.#open(verdict.reason, verdict.message, now);
    if (deadlineAt === null || now < deadlineAt) return { ...verdict, openedAt: null, deadlineAt };
    if (this.#policy.atDeadline === "open") {
      return this.#open("DeadlineOpened", `opened at the deadline, not warm: ${verdict.message}`, now);
    }
    return {
      open: false,
      reason: "DeadlineHeld",
      message: `held past the deadline: ${verdict.message}`,
      openedAt: null,
      deadlineAt,
    };
  }

  #open(reason: GateReason, message: string, now: Date): GateState {
    this.#opened = { open: true, reason, message, openedAt: now, deadlineAt: this.#deadlineAt };
    return this.#opened;
  }
}
