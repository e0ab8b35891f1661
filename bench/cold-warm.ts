// One cold warm of a set, through the real agent or through a bare CRI PullImage loop, with the
// pull rate and the CPU per pull of every process involved, per tenth of the set.
import { startAgentProcess } from "../test/agent/agent-process.ts";
import type { ContainerdInstance, RegistryInstance } from "../test/sandbox/index.ts";
import { criPullLoop } from "./cri-pull-loop.ts";
import { CpuPerTenth, metric, ratesPerTenth } from "./support.ts";

export interface ColdRun {
  /** From process start (agent) or the first call (bare loop) to the last pull. */
  readonly seconds: number;
  /** Pulls per second in each tenth. */
  readonly rates: number[];
  /** Milliseconds of CPU per pull in each tenth, by process. */
  readonly cpuPerPull: Record<string, number[]>;
  /** The agent's CRI calls during the warm: count and mean milliseconds, by method. */
  readonly calls?: Record<string, { count: number; meanMs: number }>;
}

const WARM_TIMEOUT_MS = 30 * 60_000;
const POLL_MS = 100;
const METHODS = ["PullImage", "ImageStatus", "ImageFsInfo", "ListImages"];

/** The agent from process start to its last entry pulled; its `pulled` log lines give the rate. */
export async function coldAgent(
  node: { containerd: ContainerdInstance; registry: RegistryInstance },
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  n: number,
): Promise<ColdRun> {
  const started = Date.now();
  const agent = await startAgentProcess(args, env);
  try {
    const cpu = new CpuPerTenth(n, {
      containerd: node.containerd.pid,
      registry: node.registry.pid,
      agent: agent.child.pid ?? 0,
    });
    let done: number[] = [];
    while (done.length < n) {
      if (Date.now() - started > WARM_TIMEOUT_MS)
        throw new Error(`${String(done.length)}/${String(n)} pulled`);
      if (agent.child.exitCode !== null) throw new Error(`agent exited:\n${agent.output.join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      done = agent.logs.filter((line) => line.msg === "pulled").map((line) => Number(line.time));
      cpu.update(done.length);
    }
    const status = await agent.status();
    if (!status.warm) throw new Error(`not warm after ${String(n)} pulls: ${JSON.stringify(status.summary)}`);
    const page = (await agent.get("/metrics")).body;
    const calls = Object.fromEntries(
      METHODS.map((method) => {
        const count = metric(page, `prepull_cri_call_duration_seconds_count{method="${method}"}`) || 0;
        const sum = metric(page, `prepull_cri_call_duration_seconds_sum{method="${method}"}`) || 0;
        return [method, { count, meanMs: count === 0 ? 0 : (sum / count) * 1000 }];
      }),
    );
    done.sort((a, b) => a - b);
    const agentStarted = Number(agent.logs.find((line) => line.msg === "agent started")?.time ?? started);
    return {
      seconds: ((done.at(-1) ?? started) - started) / 1000,
      rates: ratesPerTenth(agentStarted, done),
      cpuPerPull: cpu.perItemMs(),
      calls,
    };
  } finally {
    await agent.stop();
  }
}

/** The runtime alone: a bare CRI loop at the same concurrency; `client` is this process. */
export async function coldBareCri(
  node: { containerd: ContainerdInstance; registry: RegistryInstance },
  references: readonly string[],
  concurrency: number,
): Promise<ColdRun> {
  const cpu = new CpuPerTenth(references.length, {
    containerd: node.containerd.pid,
    registry: node.registry.pid,
    client: process.pid,
  });
  const started = Date.now();
  const done = await criPullLoop(node.containerd.socketPath, references, concurrency, (count) => {
    cpu.update(count);
  });
  return {
    seconds: ((done.at(-1) ?? started) - started) / 1000,
    rates: ratesPerTenth(started, done),
    cpuPerPull: cpu.perItemMs(),
  };
}
