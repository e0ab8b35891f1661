import type { AgentStatus } from "../http/index.ts";
import {
  BootstrapGate,
  gateEntryOf,
  judgeGate,
  type GatePolicy,
  type GateState,
  type NodeGateReporter,
} from "../gate/index.ts";
import type { ScheduledEntry, WarmLogger } from "../warm/index.ts";

export interface GateKeeperOptions {
  readonly policy: GatePolicy;
  readonly startedAt: Date;
  readonly entries: () => readonly ScheduledEntry[];
  /** Whether a pass has looked at the node's images since the agent started. */
  readonly firstPassDone: () => boolean;
  readonly ungated: () => ReadonlySet<string>;
  /** Tells the API server (node condition, startup taint, events); none with the Node Readiness Controller. */
  readonly reporter?: NodeGateReporter | undefined;
  readonly logger: WarmLogger;
  readonly onOpened: (seconds: number) => void;
}

const iso = (date: Date | null): string | null => date?.toISOString() ?? null;

/**
 * The agent's readiness gate: judged from the scheduler's entries whenever asked (a status, the
 * /v1/gate endpoint, after each pass, at the deadline), logged when it changes, and reported to
 * the API server when the agent is told to.
 */
export class GateKeeper {
  readonly #options: GateKeeperOptions;
  readonly #gate: BootstrapGate;
  #last: GateState | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;

  constructor(options: GateKeeperOptions) {
    this.#options = options;
    this.#gate = new BootstrapGate(options.policy, options.startedAt);
  }

  state(now: Date = new Date()): GateState {
    const { entries, ungated, firstPassDone } = this.#options;
    const skip = ungated();
    const verdict = judgeGate(
      entries().map((entry) => gateEntryOf(entry, skip)),
      firstPassDone(),
    );
    const state = this.#gate.update(verdict, now);
    this.#noteChange(state);
    return state;
  }

  status(): NonNullable<AgentStatus["gate"]> {
    const { open, reason, message, openedAt, deadlineAt } = this.state();
    return { open, reason, message, openedAt: iso(openedAt), deadlineAt: iso(deadlineAt) };
  }

  /** Judges the gate now and reports it; called after each pass and at the deadline. */
  publish(): void {
    const now = new Date();
    const state = this.state(now);
    void this.#options.reporter?.report(state, now);
  }

  /** Publishes at the deadline, which may pass between two passes. */
  start(): void {
    const deadlineAt = this.state().deadlineAt;
    if (deadlineAt === null) return;
    const wait = Math.max(0, deadlineAt.getTime() - Date.now());
    this.#deadlineTimer = setTimeout(() => {
      this.publish();
    }, wait);
    this.#deadlineTimer.unref();
  }

  stop(): void {
    clearTimeout(this.#deadlineTimer);
  }

  #noteChange(state: GateState): void {
    const last = this.#last;
    this.#last = state;
    if (last?.open === state.open && last.reason === state.reason) return;
    const fields = { gate: state.open ? "open" : "closed", reason: state.reason, detail: state.message };
    if (state.reason === "DeadlineOpened" || state.reason === "DeadlineHeld") {
      this.#options.logger.warn(fields, "readiness gate deadline passed before the node was warm");
    } else {
      this.#options.logger.info(fields, `readiness gate ${state.open ? "open" : "closed"}`);
    }
    if (state.open && last?.open !== true && state.openedAt !== null) {
      this.#options.onOpened((state.openedAt.getTime() - this.#options.startedAt.getTime()) / 1000);
    }
  }
}
