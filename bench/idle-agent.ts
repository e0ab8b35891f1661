// The agent at rest on a warm node, measured in windows: CPU from /proc between two scrapes (so the
// scrapes themselves are not counted), passes and pass time from the agent's metrics, memory from
// /proc and the V8 heap gauge at each window's end.
import { readFile } from "node:fs/promises";
import { startAgentProcess, type AgentProcess } from "../test/agent/agent-process.ts";
import { cpuSeconds, metric } from "./support.ts";

export interface IdleWindow {
  readonly passSeconds: number;
  readonly cpuPerPass: number;
  /** CPU seconds per wall second. */
  readonly cpuShare: number;
  readonly rssAnon: number;
  readonly rssFile: number;
  readonly heapUsed: number;
  /** What V8 holds from the system for its heap, used or not. */
  readonly heapTotal: number;
  /** Memory outside the V8 heap that JS objects own (Buffers: gRPC messages, status bodies). */
  readonly external: number;
}

export interface IdleFigures {
  readonly windows: IdleWindow[];
}

const PASSES_PER_WINDOW = 4;

async function memory(pid: number): Promise<{ rssAnon: number; rssFile: number }> {
  const status = await readFile(`/proc/${String(pid)}/status`, "utf8");
  const bytes = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024;
  return { rssAnon: bytes("RssAnon"), rssFile: bytes("RssFile") + bytes("RssShmem") };
}

interface Scrape {
  readonly passes: number;
  /** Pin passes that found nothing to change. */
  readonly pinsUnchanged: number;
  readonly sum: number;
  readonly heap: number;
  readonly heapTotal: number;
  readonly external: number;
}

async function passesAndTime(agent: AgentProcess): Promise<Scrape> {
  const text = (await agent.get("/metrics")).body;
  return {
    // No sample line until the first pass.
    passes: metric(text, 'prepull_passes_total{result="ok"}') || 0,
    pinsUnchanged: metric(text, 'prepull_pin_passes_total{result="unchanged"}') || 0,
    sum: metric(text, "prepull_pass_duration_seconds_sum"),
    heap: metric(text, "nodejs_heap_size_used_bytes"),
    heapTotal: metric(text, "nodejs_heap_size_total_bytes"),
    external: metric(text, "nodejs_external_memory_bytes"),
  };
}

async function until(agent: AgentProcess, done: (scrape: Scrape) => boolean): Promise<void> {
  while (!done(await passesAndTime(agent))) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Starts a fresh agent on a node that holds its set, lets it settle, then measures `count` windows.
 * `pins`: the agent pins, so it has settled only once a pin pass found nothing left to change (its
 * first pin pass labels every name the node's records lack, a one-off that is not rest).
 */
export async function idleAgent(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  count: number,
  pins: boolean,
): Promise<IdleFigures> {
  const agent = await startAgentProcess(args, env);
  const pid = agent.child.pid ?? 0;
  try {
    // Two passes to settle, and the pin passes after them: they allocate what stays.
    await until(agent, (scrape) => scrape.passes >= 2 && (!pins || scrape.pinsUnchanged >= 1));
    const settled = await agent.status();
    if (!settled.warm) throw new Error(`the agent at rest is not warm: ${JSON.stringify(settled.summary)}`);
    const windows: IdleWindow[] = [];
    let before = await passesAndTime(agent);
    let cpuBefore = cpuSeconds(pid);
    let wallBefore = performance.now();
    for (let i = 0; i < count; i += 1) {
      const target = before.passes + PASSES_PER_WINDOW;
      await until(agent, (scrape) => scrape.passes >= target);
      const cpuAfter = cpuSeconds(pid);
      const wallAfter = performance.now();
      const after = await passesAndTime(agent);
      const passes = after.passes - before.passes;
      windows.push({
        passSeconds: (after.sum - before.sum) / passes,
        cpuPerPass: (cpuAfter - cpuBefore) / passes,
        cpuShare: (cpuAfter - cpuBefore) / ((wallAfter - wallBefore) / 1000),
        heapUsed: after.heap,
        heapTotal: after.heapTotal,
        external: after.external,
        ...(await memory(pid)),
      });
      before = after;
      cpuBefore = cpuSeconds(pid);
      wallBefore = performance.now();
    }
    return { windows };
  } finally {
    await agent.stop();
  }
}
