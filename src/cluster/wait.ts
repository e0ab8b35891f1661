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

/**
 * How many agents there must be, asked every round (nodes join and leave): a count and where it
 * comes from, or why it cannot be known now.
 */
export type ExpectedAgents = () => Promise<
  { readonly count: number; readonly source: string } | { readonly error: string }
>;

export interface WaitOptions {
  readonly source: AgentSource;
  readonly target: WaitTarget;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly requestTimeoutMs: number;
  /** The fewest agents that can be done; the fallback when `expectedAgents` cannot tell. */
  readonly minAgents?: number;
  readonly expectedAgents?: ExpectedAgents;
  /** Called after every round, e.g. to redraw a table. */
  readonly onRound?: (verdict: BarrierVerdict) => void;
}

export interface WaitOutcome {
  readonly verdict: BarrierVerdict;
  readonly timedOut: boolean;
}

/** Status requests in flight at once: enough for large clusters, few enough for one Job's sockets. */
const POLL_CONCURRENCY = 32;

/** How long one status request (or API server read) may take: the poll interval, within 1 s to 10 s. */
export function statusRequestTimeout(intervalMs: number): number {
  return Math.max(1000, Math.min(intervalMs, 10_000));
}

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

function judgeRound(
  reports: AgentReport[],
  options: WaitOptions,
  expected: Awaited<ReturnType<ExpectedAgents>> | undefined,
): BarrierVerdict {
  const fallback = options.minAgents ?? 1;
  if (expected === undefined) return judgeBarrier(reports, options.target, { minAgents: fallback });
  if ("error" in expected) {
    const verdict = judgeBarrier(reports, options.target, { minAgents: fallback });
    return {
      ...verdict,
      reason: `${verdict.reason} (how many agents to expect is unknown: ${expected.error}; expecting at least ${String(fallback)})`,
    };
  }
  return judgeBarrier(reports, options.target, {
    minAgents: Math.max(fallback, expected.count),
    minAgentsSource: expected.source,
  });
}

/**
 * Polls until every agent is warm for the target, one fails for good, or the deadline passes.
 * The last round's verdict says which, node by node.
 */
export async function waitForAgents(options: WaitOptions): Promise<WaitOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const [reports, expected] = await Promise.all([
      pollRound(options.source, options.requestTimeoutMs),
      options.expectedAgents?.(),
    ]);
    const verdict = judgeRound(reports, options, expected);
    options.onRound?.(verdict);
    if (verdict.done || verdict.failed) return { verdict, timedOut: false };
    const left = deadline - Date.now();
    if (left <= 0) return { verdict, timedOut: true };
    await sleep(Math.min(options.intervalMs, left));
  }
}
