import { setTimeout as sleep } from "node:timers/promises";
import PQueue from "p-queue";
import { formatAddress, type AgentAddress } from "./address.ts";
import { discoverAgents, fetchAgentReport } from "./agents.ts";
import { judgeBarrier, type BarrierVerdict, type WaitTarget } from "./barrier.ts";
import type { AgentReport } from "./report.ts";

/** Where the agents are: a fixed list, or a headless Service's name resolved on every round. */
export type AgentSource =
  | { readonly kind: "static"; readonly agents: readonly AgentAddress[] }
  | { readonly kind: "dns"; readonly service: AgentAddress };

export interface WaitOptions {
  readonly source: AgentSource;
  readonly target: WaitTarget;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly requestTimeoutMs: number;
  readonly minAgents?: number;
  /** Called after every round, e.g. to redraw a table. */
  readonly onRound?: (verdict: BarrierVerdict) => void;
}

export interface WaitOutcome {
  readonly verdict: BarrierVerdict;
  readonly timedOut: boolean;
}

/** Status requests in flight at once: enough for large clusters, few enough for one Job's sockets. */
const POLL_CONCURRENCY = 32;

/** One round: every agent asked once, concurrently; a name that does not resolve is one report. */
async function pollRound(source: AgentSource, requestTimeoutMs: number): Promise<AgentReport[]> {
  let agents: readonly AgentAddress[] = source.kind === "static" ? source.agents : [];
  if (source.kind === "dns") {
    try {
      agents = await discoverAgents(source.service);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const why = `does not resolve${typeof code === "string" ? ` (${code})` : ""}`;
      return [{ agent: formatAddress(source.service), error: why }];
    }
  }
  const queue = new PQueue({ concurrency: POLL_CONCURRENCY });
  return Promise.all(agents.map((agent) => queue.add(() => fetchAgentReport(agent, requestTimeoutMs))));
}

/**
 * Polls until every agent is warm for the target, one fails for good, or the deadline passes.
 * The last round's verdict says which, node by node.
 */
export async function waitForAgents(options: WaitOptions): Promise<WaitOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const reports = await pollRound(options.source, options.requestTimeoutMs);
    const verdict = judgeBarrier(
      reports,
      options.target,
      options.minAgents === undefined ? {} : { minAgents: options.minAgents },
    );
    options.onRound?.(verdict);
    if (verdict.done || verdict.failed) return { verdict, timedOut: false };
    const left = deadline - Date.now();
    if (left <= 0) return { verdict, timedOut: true };
    await sleep(Math.min(options.intervalMs, left));
  }
}
