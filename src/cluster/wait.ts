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
  readonly signal?: AbortSignal;
}

export interface WaitOutcome {
  readonly verdict: BarrierVerdict;
  readonly timedOut: boolean;
}

/** Status requests in flight at once: enough for large clusters, few enough for one Job's sockets. */
const POLL_CONCURRENCY = 32;

async function addressesOf(source: AgentSource): Promise<{ agents: AgentAddress[]; error?: string }> {
  if (source.kind === "static") return { agents: [...source.agents] };
  try {
    return { agents: await discoverAgents(source.service) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return {
      agents: [],
      error: `does not resolve${typeof code === "string" ? ` (${code})` : ""}`,
    };
  }
}

/** One round: every agent asked once, concurrently. */
async function pollRound(source: AgentSource, requestTimeoutMs: number): Promise<AgentReport[]> {
  const { agents, error } = await addressesOf(source);
  if (error !== undefined && source.kind === "dns") {
    return [{ agent: formatAddress(source.service), error }];
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
    if (left <= 0 || options.signal?.aborted === true) return { verdict, timedOut: true };
    try {
      await sleep(
        Math.min(options.intervalMs, left),
        undefined,
        options.signal ? { signal: options.signal } : {},
      );
    } catch {
      return { verdict, timedOut: true };
    }
  }
}
