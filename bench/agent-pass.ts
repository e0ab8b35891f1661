// The agent with 1,000 entries already warm: CRI calls per pass, pass time, CPU per pass, RSS,
// and time from process start to the first completed pass (over several starts).
// Run: npx node bench/agent-pass.ts [--entries 1000] [--passes 20] [--starts 5] [--no-pin] [--bin FILE]
// (--no-pin runs the agent with --pin=false, to tell the pin pass's cost from the rest;
// --bin FILE starts the agent from another entry point, a bundle say, instead of bin/prepull.js)
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { startAgentProcess, type AgentProcess } from "../test/agent/agent-process.ts";
import { imageSetYaml } from "../test/agent/config-map.ts";
import { pushImage, startContainerd, startRegistry, tagImage } from "../test/sandbox/index.ts";
import { runtimeLine, spread } from "./support.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));
const { values } = parseArgs({
  options: {
    entries: { type: "string", default: "1000" },
    passes: { type: "string", default: "20" },
    starts: { type: "string", default: "5" },
    "no-pin": { type: "boolean", default: false },
    bin: { type: "string" },
  },
});
const entries = Number(values.entries);
const passes = Number(values.passes);
const starts = Math.max(1, Number(values.starts));
const TAGS_PER_IMAGE = 20;

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name));
  return Number(line?.split(" ").at(-1) ?? NaN);
}

const [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
const dir = await mkdtemp(join(tmpdir(), "prepull-bench-agent-"));
try {
  const references: string[] = [];
  for (let i = 0; references.length < entries; i += 1) {
    const image = await pushImage(registry, { repository: `bench/svc-${i}`, tag: "t0", seed: `agent-${i}` });
    references.push(image.reference);
    for (let t = 1; t < TAGS_PER_IMAGE && references.length < entries; t += 1) {
      await tagImage(registry, `bench/svc-${i}`, image.digest, `t${t}`);
      references.push(`${image.repository}:t${t}`);
    }
  }
  const setFile = join(dir, "set.yaml");
  await writeFile(setFile, imageSetYaml("bench", references));
  await run(
    process.execPath,
    [BIN, "warm", "--config", setFile, "--runtime-endpoint", containerd.endpoint, "-c", "16"],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );

  // The Node options the container image ships with (Dockerfile), unless the caller sets others.
  const nodeOptions = process.env.NODE_OPTIONS ?? "--max-semi-space-size=1";
  const agentArgs = [
    "--config",
    setFile,
    "--runtime-endpoint",
    containerd.endpoint,
    "--resync",
    "1s",
    "--log-level",
    "info",
    ...(values["no-pin"] ? ["--pin=false"] : []),
  ];
  // Seconds from spawning the agent to the end of its first pass, taken from the agent's own
  // record of that pass (when it began, how long it took): polling for it would add its interval.
  const startAgent = async (): Promise<{ agent: AgentProcess; seconds: number }> => {
    const started = Date.now();
    const agent = await startAgentProcess(agentArgs, { NODE_OPTIONS: nodeOptions }, values.bin);
    const { lastPass } = await agent
      .waitFor((s) => s.lastPass !== null, "the first pass", 60_000)
      .catch(async (error: unknown) => {
        await agent.stop();
        throw error;
      });
    const ended = lastPass === null ? NaN : Date.parse(lastPass.at) + lastPass.seconds * 1000;
    return { agent, seconds: (ended - started) / 1000 };
  };
  const startSeconds: number[] = [];
  for (let i = 1; i < starts; i += 1) {
    const { agent, seconds } = await startAgent();
    startSeconds.push(seconds);
    await agent.stop();
  }
  const { agent, seconds } = await startAgent();
  startSeconds.push(seconds);
  try {
    const firstPass = spread(startSeconds);
    const status = await agent.status();
    const before = (await agent.get("/metrics")).body;
    const passesBefore = metric(before, 'prepull_passes_total{result="ok"}');
    await new Promise((resolve) => setTimeout(resolve, passes * 1000 + 500));
    const after = (await agent.get("/metrics")).body;
    const passCount = metric(after, 'prepull_passes_total{result="ok"}') - passesBefore;
    const listCalls =
      metric(after, 'prepull_cri_calls_total{method="ListImages",result="ok"}') -
      metric(before, 'prepull_cri_calls_total{method="ListImages",result="ok"}');
    const pullCalls = metric(after, 'prepull_cri_calls_total{method="PullImage",result="ok"}') || 0;
    const statusCalls = metric(after, 'prepull_cri_calls_total{method="ImageStatus",result="ok"}') || 0;
    const passSeconds =
      (metric(after, "prepull_pass_duration_seconds_sum") -
        metric(before, "prepull_pass_duration_seconds_sum")) /
      passCount;
    const cpu =
      (metric(after, "process_cpu_seconds_total") - metric(before, "process_cpu_seconds_total")) / passCount;
    const rss = metric(after, "process_resident_memory_bytes") / 1e6;
    const heap = metric(after, "nodejs_heap_size_used_bytes") / 1e6;
    // Anonymous memory is the agent's own; file-backed pages are the Node binary's code, clean
    // and reclaimable, and shared with any other process running the same binary.
    const procStatus = await readFile(`/proc/${String(agent.child.pid)}/status`, "utf8");
    const kb = (field: string): number =>
      Number(new RegExp(`${field}:\\s+(\\d+)`).exec(procStatus)?.[1] ?? NaN);
    process.stdout.write(
      [
        `agent with ${entries} entries already warm (warm=${String(status.warm)}), ${passCount} passes at a 1 s resync${values["no-pin"] ? ", --pin=false" : ""}, NODE_OPTIONS="${nodeOptions}", ${runtimeLine(containerd)}:`,
        `  CRI calls per pass      ${(listCalls / passCount).toFixed(2)} ListImages, PullImage ${pullCalls}, ImageStatus ${statusCalls} in all`,
        `  pass wall time          ${(passSeconds * 1000).toFixed(1)} ms (target < 50 ms)`,
        `  CPU per pass            ${(cpu * 1000).toFixed(1)} ms (process CPU between scrapes / passes)`,
        `  RSS after warm-up       ${rss.toFixed(1)} MB (target ≤ 90 MB): anonymous ${(kb("RssAnon") / 1000).toFixed(1)} MB, file-backed ${(kb("RssFile") / 1000).toFixed(1)} MB; V8 heap in use ${heap.toFixed(1)} MB`,
        `  start to first pass     ${firstPass.median.toFixed(2)} s (target ≤ 0.3 s), min ${firstPass.min.toFixed(2)}, max ${firstPass.max.toFixed(2)} over ${starts} starts`,
        "",
      ].join("\n"),
    );
  } finally {
    await agent.stop();
  }
} finally {
  await Promise.all([containerd.stop(), registry.stop(), rm(dir, { recursive: true, force: true })]);
}
