import {
  getNode,
  recordPodEvent,
  removeNodeTaint,
  setNodeCondition,
  type KubeApi,
  type PodRef,
} from "../kube/index.ts";
import { Rerunner } from "../concurrency/index.ts";
import type { GateState } from "./bootstrap.ts";

/** The node condition the agent sets (its type), when told to. */
const GATE_CONDITION = "PrepullImagesWarm";
/** The condition is written again at least this often, so a stale one can be told from a live one. */
const HEARTBEAT_MS = 5 * 60_000;

export interface NodeGateOptions {
  readonly nodeName: string;
  /** The agent's own pod, which the gate's events are about. */
  readonly pod: PodRef;
  /** Set the PrepullImagesWarm condition on the node's status. */
  readonly condition: boolean;
  /** The startup taint to remove once the gate opens. */
  readonly taint?: { readonly key: string; readonly effect?: string };
}

export interface GateLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
}

/**
 * Tells the API server what the gate says, for a node without the Node Readiness Controller:
 * the condition on every change (and a heartbeat), the startup taint removed once it opens, and
 * an event on the agent's pod when it opens or is held at its deadline. A failed request is logged and tried again
 * at the next report; reports never overlap.
 */
export class NodeGateReporter {
  readonly #api: KubeApi;
  readonly #options: NodeGateOptions;
  readonly #logger: GateLogger;
  #written: { key: string; at: number } | undefined;
  #transition: { open: boolean; at: Date } | undefined;
  #taintGone = false;
  #openedBefore: boolean | undefined;
  #announced = new Set<string>();
  readonly #reports: Rerunner<{ readonly state: GateState; readonly now: Date }>;

  constructor(api: KubeApi, options: NodeGateOptions, logger: GateLogger) {
    this.#api = api;
    this.#options = options;
    this.#logger = logger;
    this.#reports = new Rerunner(
      ({ state, now }) => this.#reportOnce(state, now),
      (error: unknown) => {
        this.#logger.warn(
          { node: this.#options.nodeName, error: error instanceof Error ? error.message : String(error) },
          "could not report the readiness gate to the API server; trying again at the next pass",
        );
      },
    );
  }

  /** Reports `state`; while a report runs, only the latest state waits for the next. */
  report(state: GateState, now: Date): Promise<void> {
    return this.#reports.request({ state, now });
  }

  async #reportOnce(state: GateState, now: Date): Promise<void> {
    // Bootstrap only, across agents too: a node whose condition an earlier agent set True (a
    // restart, a rolling update) is serving, and a new agent's first closed moments change nothing.
    this.#openedBefore ??= await this.#conditionIsTrue();
    if (this.#openedBefore && !state.open) return;
    if (this.#transition?.open !== state.open) this.#transition = { open: state.open, at: now };
    if (this.#options.condition) await this.#writeCondition(state, now, this.#transition.at);
    const taint = state.open && !this.#taintGone ? this.#options.taint : undefined;
    if (taint !== undefined) {
      const node = await getNode(this.#api, this.#options.nodeName);
      const removed = await removeNodeTaint(this.#api, node, taint);
      this.#taintGone = true;
      if (removed) this.#logger.info({ node: node.metadata.name, taint: taint.key }, "startup taint removed");
    }
    const event = this.#eventFor(state);
    if (event !== undefined) {
      // Best effort, as kubelet's events: one attempt, and a failure is only logged.
      this.#announced.add(event.reason);
      await recordPodEvent(this.#api, this.#options.pod, event, now);
    }
  }

  async #conditionIsTrue(): Promise<boolean> {
    if (!this.#options.condition) return false;
    const node = await getNode(this.#api, this.#options.nodeName);
    return (node.status?.conditions ?? []).some(
      (condition) => condition.type === GATE_CONDITION && condition.status === "True",
    );
  }

  async #writeCondition(state: GateState, now: Date, since: Date): Promise<void> {
    const key = `${String(state.open)}\u0000${state.reason}\u0000${state.message}`;
    const fresh = this.#written !== undefined && now.getTime() - this.#written.at < HEARTBEAT_MS;
    if (fresh && this.#written?.key === key) return;
    await setNodeCondition(
      this.#api,
      this.#options.nodeName,
      {
        type: GATE_CONDITION,
        status: state.open ? "True" : "False",
        reason: state.reason,
        message: state.message,
        lastTransitionTime: since,
      },
      now,
    );
    this.#written = { key, at: now.getTime() };
  }

  /** The one event each of these moments gets: opened (warm or at the deadline), or held past it. */
  #eventFor(state: GateState): { type: "Normal" | "Warning"; reason: string; message: string } | undefined {
    const reason =
      state.reason === "DeadlineHeld" ? "PrepullGateHeld" : state.open ? "PrepullGateOpened" : undefined;
    if (reason === undefined || this.#announced.has(reason)) return undefined;
    const type = state.reason === "DeadlineHeld" || state.reason === "DeadlineOpened" ? "Warning" : "Normal";
    return { type, reason, message: `node ${this.#options.nodeName}: ${state.reason}: ${state.message}` };
  }
}
