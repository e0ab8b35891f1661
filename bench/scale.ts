// The scale of the desired set. For each size: a cold warm through the real agent and through a
// bare CRI PullImage loop at the same concurrency, each on a fresh containerd, with the pull rate
// and every process's CPU per pull per tenth of the set (does the rate fall, and whose cost
// grows?); then the agent at rest on the warm node: pass time, CPU per pass, RSS and V8 heap over
// several windows (median, min, max), and what one more entry costs between the smallest and the
// largest size.
// Run: npx node bench/scale.ts [--entries 1000,10000] [--concurrency 4] [--windows 5] [--resync 2s]
//      [--no-pin] [--profile DIR]
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { imageSetYaml } from "../test/agent/config-map.ts";
import { startContainerd, startRegistry } from "../test/sandbox/index.ts";
import { coldAgent, coldBareCri, type ColdRun } from "./cold-warm.ts";
import { idleAgent, type IdleFigures, type IdleWindow } from "./idle-agent.ts";
import { imageEnvironment, loadAverages, pushTaggedSet, runtimeLine, spread } from "./support.ts";

const { values } = parseArgs({
  options: {
    entries: { type: "string", default: "1000,10000" },
    concurrency: { type: "string", default: "4" },
    windows: { type: "string", default: "5" },
    resync: { type: "string", default: "2s" },
    pin: { type: "boolean", default: true },
    /** A directory for the agents' CPU profiles (`--cpu-prof`), written as each agent exits. */
    profile: { type: "string" },
  },
  allowNegative: true,
});
const sizes = values.entries.split(",").map(Number);
const concurrency = Number(values.concurrency);
const windows = Number(values.windows);
/** The Node options and allocator settings the container image ships with (Dockerfile). */
const image = imageEnvironment();
const NODE_OPTIONS = [
  image.nodeOptions,
  ...(values.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${values.profile}`]),
].join(" ");
const agentEnv = { ...image.allocator, NODE_OPTIONS };

interface SizeFigures {
  readonly entries: number;
  readonly agent: ColdRun;
  readonly bare: ColdRun;
  readonly idle: IdleFigures;
  readonly load: string;
}

const benchStarted = performance.now();
const registry = await startRegistry();
const dir = await mkdtemp(join(tmpdir(), "prepull-bench-scale-"));
const allReferences = await pushTaggedSet(registry, Math.max(...sizes));
const pushSeconds = (performance.now() - benchStarted) / 1000;
let runtime = "";

const results: SizeFigures[] = [];
try {
  for (const n of sizes) {
    const references = allReferences.slice(0, n);
    const setFile = join(dir, `set-${String(n)}.yaml`);
    await writeFile(setFile, imageSetYaml("scale", references));
    const agentArgs = [
      ...["--config", setFile, "--log-level", "info", "-c", String(concurrency)],
      `--pin=${String(values.pin)}`,
    ];
    const load = [loadAverages()];

    const containerd = await startContainerd();
    runtime = runtimeLine(containerd);
    let agent: ColdRun;
    let idle: IdleFigures;
    try {
      const endpoint = ["--runtime-endpoint", containerd.endpoint];
      agent = await coldAgent({ containerd, registry }, [...agentArgs, ...endpoint], agentEnv, n);
      load.push(loadAverages());
      const idleArgs = [...agentArgs, ...endpoint, "--resync", values.resync];
      idle = await idleAgent(idleArgs, agentEnv, windows, values.pin);
    } finally {
      await containerd.stop();
    }

    const fresh = await startContainerd();
    let bare: ColdRun;
    try {
      bare = await coldBareCri({ containerd: fresh, registry }, references, concurrency);
    } finally {
      await fresh.stop();
    }
    load.push(loadAverages());
    results.push({ entries: n, agent, bare, idle, load: load.join(" → ") });
  }
} finally {
  await Promise.all([registry.stop(), rm(dir, { recursive: true, force: true })]);
}

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const fmt = (samples: readonly number[], digits: number): string => {
  const { median, min, max } = spread(samples);
  return `${median.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`;
};
const row = (label: string, samples: readonly number[], digits = 0): string =>
  `    ${label.padEnd(22)}${samples.map((v) => v.toFixed(digits).padStart(6)).join("")}`;
out(
  `Scale of the desired set on ${runtime}, concurrency ${String(concurrency)}, pins ${values.pin ? "on" : "off"},`,
);
const allocator = Object.entries(image.allocator).map(([name, value]) => `${name}=${value}`);
out(
  `NODE_OPTIONS="${NODE_OPTIONS}" ${allocator.join(" ")}. Images of one 1 KB layer, 20 tags each: many names, few bytes.`,
);
for (const r of results) {
  out(``);
  out(
    `${String(r.entries)} entries, cold (load average 1/5/15 min at start → after agent → end: ${r.load}):`,
  );
  out(`  agent, process start to warm   ${r.agent.seconds.toFixed(1)} s`);
  out(`  bare CRI PullImage loop        ${r.bare.seconds.toFixed(1)} s`);
  out(`  per tenth of the set (1st … 10th):`);
  out(row("agent: pulls/s", r.agent.rates));
  for (const [name, ms] of Object.entries(r.agent.cpuPerPull)) out(row(`  ${name} CPU ms/pull`, ms, 1));
  out(row("bare CRI: pulls/s", r.bare.rates));
  for (const [name, ms] of Object.entries(r.bare.cpuPerPull)) out(row(`  ${name} CPU ms/pull`, ms, 1));
  const calls = Object.entries(r.agent.calls ?? {}).map(
    ([method, c]) => `${method} ${String(c.count)} × ${c.meanMs.toFixed(1)} ms`,
  );
  out(`  agent's CRI calls (count × mean latency): ${calls.join(", ")}`);
  const w = r.idle.windows;
  out(`  at rest, resync ${values.resync}, ${String(w.length)} windows of 4 passes: median (min–max)`);
  const idleRows: Array<[string, (x: IdleWindow) => number, number, string]> = [
    ["pass wall time", (x) => x.passSeconds * 1000, 1, "ms"],
    ["CPU per pass", (x) => x.cpuPerPass * 1000, 1, "ms"],
    ["CPU, share of a core", (x) => x.cpuShare * 100, 1, "%"],
    ["RSS", (x) => (x.rssAnon + x.rssFile) / 1e6, 1, "MB"],
    ["  anonymous", (x) => x.rssAnon / 1e6, 1, "MB"],
    ["  file-backed", (x) => x.rssFile / 1e6, 1, "MB"],
    ["V8 heap used", (x) => x.heapUsed / 1e6, 1, "MB"],
    ["V8 heap total", (x) => x.heapTotal / 1e6, 1, "MB"],
    ["external (Buffers)", (x) => x.external / 1e6, 1, "MB"],
  ];
  for (const [label, f, digits, unit] of idleRows) {
    out(`    ${label.padEnd(22)}${fmt(w.map(f), digits)} ${unit}`);
  }
}
const [small, large] = [results[0], results.at(-1)];
if (small !== undefined && large !== undefined && large.entries > small.entries) {
  const added = large.entries - small.entries;
  const perEntry = (f: (window: IdleWindow) => number): number =>
    (spread(large.idle.windows.map(f)).median - spread(small.idle.windows.map(f)).median) / added;
  out(``);
  out(
    `Per entry at rest, (${String(large.entries)} − ${String(small.entries)}) / ${String(added)}, from the medians:`,
  );
  // The smallest reading of a run is the nearest to its live heap (least garbage not yet collected).
  const leastHeap = (r: SizeFigures): number => Math.min(...r.idle.windows.map((x) => x.heapUsed));
  out(
    `  V8 heap        ${(perEntry((x) => x.heapUsed) / 1000).toFixed(2)} KB (from the minima: ${((leastHeap(large) - leastHeap(small)) / added / 1000).toFixed(2)} KB)`,
  );
  out(`  RSS            ${(perEntry((x) => x.rssAnon + x.rssFile) / 1000).toFixed(2)} KB`);
  out(`  CPU per pass   ${(perEntry((x) => x.cpuPerPass) * 1e6).toFixed(1)} µs`);
  out(`  pass time      ${(perEntry((x) => x.passSeconds) * 1e6).toFixed(1)} µs`);
}
out(``);
out(
  `Images pushed in ${pushSeconds.toFixed(0)} s; the whole run took ${((performance.now() - benchStarted) / 1000).toFixed(0)} s.`,
);
