// The agent's resident memory after it warmed a cold set itself, then rested: under several
// settings (Node options, allocator environment), interleaved round by round, each run on a fresh
// containerd, optionally inside a memory cgroup as the DaemonSet's limit puts it. Along the way:
// RSS and V8 heap at each tenth of the warm and the peak; then at rest, after V8's memory reducer
// had its chance (it collects at the latest 100 s after the last full GC). `image` is the
// container image's settings before this benchmark; `shipped` reads today's from the Dockerfile.
// Run: npx node bench/memory-at-rest.ts [--entries 1000] [--rounds 2] [--rest 150s] [--sample 30s]
//      [--resync 2m] [--limit 256Mi] [--variants image,shipped,...] [--concurrency 4] [--locked]
//      [--timeline] [--output DIR]
// (--limit runs each agent in a cgroup v1 or v2 memory group of that size; --locked writes the set
// as `prepull lock` does, `name:tag` with its digest, instead of tags alone; --timeline prints the
// tenths and the rest's samples; --output keeps each agent's log)
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import PQueue from "p-queue";
import { imageSetYaml } from "../test/agent/config-map.ts";
import {
  pushImage,
  startContainerd,
  startRegistry,
  tagImage,
  type RegistryInstance,
} from "../test/sandbox/index.ts";
import { cpuSeconds, imageEnvironment, loadAverages, metric, runtimeLine, spread } from "./support.ts";

const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));

interface Variant {
  /** NODE_OPTIONS, as the image sets it. */
  readonly nodeOptions: string;
  /** Flags on node's own command line (the image's ENTRYPOINT), for V8 flags NODE_OPTIONS refuses. */
  readonly nodeArgs?: readonly string[];
  readonly env: Record<string, string>;
}

const IMAGE_OPTIONS = "--max-semi-space-size=1";
const image = imageEnvironment();
const shipped: Variant = { nodeOptions: image.nodeOptions, env: image.allocator };
/**
 * The settings compared (BENCHMARKS.md has what each measured). `image` is the container
 * image before the allocator settings; `shipped` is the Dockerfile's now; `trace` prints V8's GC
 * and memory reducer decisions into the agent's output (keep it with --output).
 */
export const VARIANTS: Record<string, Variant> = {
  image: { nodeOptions: IMAGE_OPTIONS, env: {} },
  shipped,
  "shipped-pool": { ...shipped, nodeOptions: `${shipped.nodeOptions} --v8-pool-size=2` },
  arenas: { nodeOptions: IMAGE_OPTIONS, env: { MALLOC_ARENA_MAX: "2" } },
  trim: { nodeOptions: IMAGE_OPTIONS, env: { MALLOC_ARENA_MAX: "2", MALLOC_TRIM_THRESHOLD_: "131072" } },
  mmap: { nodeOptions: IMAGE_OPTIONS, env: { MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "65536" } },
  mmap32: {
    nodeOptions: IMAGE_OPTIONS,
    env: { MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "32768", MALLOC_TRIM_THRESHOLD_: "65536" },
  },
  "one-arena": {
    nodeOptions: IMAGE_OPTIONS,
    env: { MALLOC_ARENA_MAX: "1", MALLOC_MMAP_THRESHOLD_: "65536" },
  },
  pool: {
    nodeOptions: `${IMAGE_OPTIONS} --v8-pool-size=2`,
    env: { MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "65536" },
  },
  heap: { nodeOptions: `${IMAGE_OPTIONS} --max-old-space-size=128`, env: {} },
  combo: {
    nodeOptions: `${IMAGE_OPTIONS} --max-old-space-size=128`,
    env: { MALLOC_ARENA_MAX: "2", MALLOC_TRIM_THRESHOLD_: "131072" },
  },
  trace: { nodeOptions: IMAGE_OPTIONS, nodeArgs: ["--trace-gc", "--trace-memory-reducer"], env: {} },
};

const { values } = parseArgs({
  options: {
    entries: { type: "string", default: "1000" },
    rounds: { type: "string", default: "2" },
    // V8's memory reducer collects at rest at the latest 100 s after the last full GC.
    rest: { type: "string", default: "150s" },
    /** How often the rest is sampled: each sample is a /metrics scrape, which allocates. */
    sample: { type: "string", default: "30s" },
    resync: { type: "string", default: "2m" },
    limit: { type: "string" },
    variants: { type: "string", default: "image,shipped" },
    concurrency: { type: "string", default: "4" },
    locked: { type: "boolean", default: false },
    timeline: { type: "boolean", default: false },
    /** A directory for each agent's output (its log but the `pulled` lines, and what V8 traces). */
    output: { type: "string" },
  },
});
const entries = Number(values.entries);
const rounds = Number(values.rounds);
const seconds = (text: string): number => Number.parseFloat(text) * (text.endsWith("m") ? 60 : 1);
const restMs = seconds(values.rest) * 1000;
const restSampleMs = seconds(values.sample) * 1000;
const variantNames = values.variants.split(",");
for (const name of variantNames) if (!(name in VARIANTS)) throw new Error(`no variant ${name}`);
const limitBytes = values.limit === undefined ? undefined : bytesOf(values.limit);

function bytesOf(text: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(text);
  if (match === null) throw new Error(`--limit ${text}: write it as 256Mi`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] ?? ""] ?? 1;
  return Number(match[1]) * unit;
}

/** A memory group for one agent: cgroup v2 when mounted so, else v1's memory hierarchy. */
interface MemoryGroup {
  readonly dir: string;
  /** The most the group held, in bytes. */
  peak(): Promise<number>;
  /** How often the kernel's OOM killer struck in it. */
  oomKills(): Promise<number>;
  remove(): Promise<void>;
}

async function memoryGroup(name: string, bytes: number): Promise<MemoryGroup> {
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
  const dir = v2 ? join("/sys/fs/cgroup", name) : join("/sys/fs/cgroup/memory", name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, v2 ? "memory.max" : "memory.limit_in_bytes"), String(bytes));
  const read = async (file: string): Promise<string> => readFile(join(dir, file), "utf8");
  return {
    dir,
    peak: async () => Number(await read(v2 ? "memory.peak" : "memory.max_usage_in_bytes").catch(() => "NaN")),
    oomKills: async () => {
      const text = await read(v2 ? "memory.events" : "memory.oom_control").catch(() => "");
      return Number(/oom_kill (\d+)/.exec(text)?.[1] ?? 0);
    },
    remove: () => rmdir(dir).catch(() => undefined),
  };
}

interface Agent {
  readonly child: ChildProcess;
  /** The agent's output but its `pulled` lines, the last 5,000 lines. */
  readonly output: readonly string[];
  readonly url: string;
  /** `pulled` log lines so far. */
  readonly pulled: number;
  get(path: string): Promise<string>;
  stop(): Promise<void>;
}

/** `prepull agent` from the sources, in `group` from its first instruction when one is given. */
async function startAgent(
  args: readonly string[],
  settings: Variant,
  group: MemoryGroup | undefined,
): Promise<Agent> {
  const argv = [...(settings.nodeArgs ?? []), BIN, "agent", "--listen", "127.0.0.1:0", ...args];
  const env = { NODE_OPTIONS: settings.nodeOptions, ...settings.env };
  const child =
    group === undefined
      ? spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
      : spawn(
          "/bin/sh",
          ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', group.dir, process.execPath, ...argv],
          {
            env: { ...process.env, ...env },
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  createInterface({ input: child.stderr }).on("line", (line) => output.push(line));
  const counts = { pulled: 0 };
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.includes('"msg":"pulled"')) {
        counts.pulled += 1;
        return;
      }
      output.push(line);
      if (output.length > 5_000) output.shift();
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === "agent started" && typeof entry.url === "string") resolve(entry.url);
      } catch {
        // not a log line
      }
    });
    void exited.then(() => {
      reject(new Error(`agent exited before starting:\n${output.join("\n")}`));
    });
  });
  return {
    child,
    output,
    url,
    get pulled() {
      return counts.pulled;
    },
    get: async (path) => (await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) })).text(),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

interface Sample {
  readonly seconds: number;
  readonly pulled: number;
  readonly rssAnon: number;
  readonly rssFile: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}

async function sample(agent: Agent, started: number): Promise<Sample> {
  const pid = agent.child.pid ?? 0;
  const [status, page] = await Promise.all([
    readFile(`/proc/${String(pid)}/status`, "utf8"),
    agent.get("/metrics"),
  ]);
  const kb = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024;
  return {
    seconds: (performance.now() - started) / 1000,
    pulled: agent.pulled,
    rssAnon: kb("RssAnon"),
    rssFile: kb("RssFile") + kb("RssShmem"),
    heapUsed: metric(page, "nodejs_heap_size_used_bytes"),
    heapTotal: metric(page, "nodejs_heap_size_total_bytes"),
    external: metric(page, "nodejs_external_memory_bytes"),
  };
}

interface Run {
  readonly variant: string;
  readonly warmSeconds: number;
  /** The agent's CPU seconds for the warm, and over the rest. */
  readonly warmCpu: number;
  readonly restCpu: number;
  /** At each tenth of the warm. */
  readonly tenths: Sample[];
  readonly peakRss: number;
  readonly peakHeapTotal: number;
  /** The last sample at rest. */
  readonly rest: Sample;
  /** The smallest RSS over the second half of the rest. */
  readonly restMinRss: number;
  readonly restSeries: Sample[];
  readonly groupPeak: number | undefined;
  readonly oomKills: number;
  readonly load: string;
  readonly failure: string | undefined;
}

const SAMPLE_MS = 1_000;
const WARM_TIMEOUT_MS = 30 * 60_000;

async function measure(variant: string, setFile: string, n: number): Promise<Run & { runtime: string }> {
  const settings = VARIANTS[variant] ?? { nodeOptions: "", env: {} };
  const load = [loadAverages()];
  const containerd = await startContainerd();
  const group =
    limitBytes === undefined
      ? undefined
      : await memoryGroup(`prepull-bench-memory-${String(process.pid)}`, limitBytes);
  const args = [
    ...["--config", setFile, "--runtime-endpoint", containerd.endpoint],
    ...["--resync", values.resync, "--log-level", "info", "-c", values.concurrency],
  ];
  const started = performance.now();
  let agent: Agent | undefined;
  const tenths: Sample[] = [];
  const samples: Sample[] = [];
  let failure: string | undefined;
  let warmSeconds = NaN;
  let warmCpu = NaN;
  try {
    agent = await startAgent(args, settings, group);
    let nextTenth = 1;
    while (agent.pulled < n) {
      if (agent.child.exitCode !== null || agent.child.signalCode !== null) {
        throw new Error(`the agent ended (${String(agent.child.signalCode ?? agent.child.exitCode)})`);
      }
      if (performance.now() - started > WARM_TIMEOUT_MS) throw new Error(`${String(agent.pulled)} pulled`);
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
      const now = await sample(agent, started);
      samples.push(now);
      while (now.pulled >= (nextTenth * n) / 10 && nextTenth <= 10) {
        tenths.push(now);
        nextTenth += 1;
      }
    }
    warmSeconds = (performance.now() - started) / 1000;
    const pid = agent.child.pid ?? 0;
    warmCpu = cpuSeconds(pid);
    load.push(loadAverages());
    const restStarted = performance.now();
    const atRest: Sample[] = [];
    while (performance.now() - restStarted < restMs) {
      await new Promise((resolve) => setTimeout(resolve, restSampleMs));
      atRest.push(await sample(agent, started));
    }
    samples.push(...atRest);
    const restCpu = cpuSeconds(pid) - warmCpu;
    const status = JSON.parse(await agent.get("/v1/status")) as { warm: boolean; summary: unknown };
    if (!status.warm) failure = `not warm at rest: ${JSON.stringify(status.summary)}`;
    const last = atRest.at(-1);
    if (last === undefined) throw new Error("no sample at rest");
    const secondHalf = atRest.slice(Math.floor(atRest.length / 2));
    return {
      variant,
      runtime: runtimeLine(containerd),
      warmSeconds,
      warmCpu,
      restCpu,
      tenths,
      peakRss: Math.max(...samples.map((s) => s.rssAnon + s.rssFile)),
      peakHeapTotal: Math.max(...samples.map((s) => s.heapTotal)),
      rest: last,
      restMinRss: Math.min(...secondHalf.map((s) => s.rssAnon + s.rssFile)),
      restSeries: atRest,
      groupPeak: await group?.peak(),
      oomKills: (await group?.oomKills()) ?? 0,
      load: [...load, loadAverages()].join(" → "),
      failure,
    };
  } catch (error) {
    failure = (error as Error).message;
    const none: Sample = {
      seconds: NaN,
      pulled: agent?.pulled ?? 0,
      rssAnon: NaN,
      rssFile: NaN,
      heapUsed: NaN,
      heapTotal: NaN,
      external: NaN,
    };
    return {
      variant,
      runtime: runtimeLine(containerd),
      warmSeconds,
      warmCpu,
      restCpu: NaN,
      tenths,
      peakRss: Math.max(...samples.map((s) => s.rssAnon + s.rssFile), NaN),
      peakHeapTotal: Math.max(...samples.map((s) => s.heapTotal), NaN),
      rest: none,
      restMinRss: NaN,
      restSeries: [],
      groupPeak: await group?.peak(),
      oomKills: (await group?.oomKills()) ?? 0,
      load: [...load, loadAverages()].join(" → "),
      failure,
    };
  } finally {
    await agent?.stop();
    if (values.output !== undefined && agent !== undefined) {
      await mkdir(values.output, { recursive: true });
      await writeFile(join(values.output, `${variant}-${String(Date.now())}.log`), agent.output.join("\n"));
    }
    await group?.remove();
    await containerd.stop();
  }
}

/** `count` names, 20 tags per image of one 1 KB layer, with their digests. */
async function pushSet(
  registry: RegistryInstance,
  count: number,
): Promise<Array<{ image: string; digest: string }>> {
  const tagsPerImage = 20;
  const queue = new PQueue({ concurrency: 8 });
  const images = Math.ceil(count / tagsPerImage);
  const sets = await Promise.all(
    Array.from({ length: images }, (_, i) =>
      queue.add(async () => {
        const repository = `bench/mem-${String(i)}`;
        const image = await pushImage(registry, { repository, tag: "t0", seed: `memory-${String(i)}` });
        const tags = Array.from({ length: tagsPerImage - 1 }, (_, t) => `t${String(t + 1)}`);
        for (const tag of tags) await tagImage(registry, repository, image.digest, tag);
        return [image.reference, ...tags.map((tag) => `${image.repository}:${tag}`)].map((name) => ({
          image: name,
          digest: image.digest,
        }));
      }),
    ),
  );
  return sets.flat().slice(0, count);
}

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

const registry = await startRegistry();
const dir = await mkdtemp(join(tmpdir(), "prepull-bench-memory-"));
const runs: Array<Run & { runtime: string }> = [];
try {
  const set = await pushSet(registry, entries);
  const setFile = join(dir, "set.yaml");
  await writeFile(setFile, imageSetYaml("memory", values.locked ? set : set.map((entry) => entry.image)));
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of variantNames) {
      const run = await measure(variant, setFile, entries);
      runs.push(run);
      process.stderr.write(
        `round ${String(round + 1)} ${variant}: warm ${run.warmSeconds.toFixed(1)} s, rest RSS ${mb(run.rest.rssAnon + run.rest.rssFile)} MB${run.failure ? `, ${run.failure}` : ""} (load ${run.load})\n`,
      );
    }
  }
} finally {
  await Promise.all([registry.stop(), rm(dir, { recursive: true, force: true })]);
}

out(
  `The agent's memory after warming ${String(entries)} ${values.locked ? "locked " : ""}entries itself (images of one 1 KB layer, 20 tags each), ` +
    `then ${String(restMs / 1000)} s at rest (resync ${values.resync}), on ${runs[0]?.runtime ?? "?"}, concurrency ${values.concurrency}, ` +
    `${limitBytes === undefined ? "no memory limit" : `in a memory cgroup of ${values.limit ?? ""}`}; ${String(rounds)} interleaved rounds, median (min–max):`,
);
const fmt = (samples: readonly number[], digits = 1): string => {
  const finite = samples.filter(Number.isFinite);
  if (finite.length === 0) return "—";
  const { median, min, max } = spread(finite);
  return finite.length === 1
    ? median.toFixed(digits)
    : `${median.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`;
};
for (const name of variantNames) {
  const mine = runs.filter((run) => run.variant === name);
  const settings = VARIANTS[name];
  out(``);
  out(
    `${name}: ${(settings?.nodeArgs ?? []).join(" ")} NODE_OPTIONS="${settings?.nodeOptions ?? ""}" ${Object.entries(
      settings?.env ?? {},
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}`,
  );
  out(`  warm, process start to last pull   ${fmt(mine.map((r) => r.warmSeconds))} s`);
  out(
    `  agent CPU: the warm, the rest       ${fmt(mine.map((r) => r.warmCpu))} s, ${fmt(
      mine.map((r) => r.restCpu),
      2,
    )} s`,
  );
  out(`  peak RSS during the warm           ${fmt(mine.map((r) => r.peakRss / 1e6))} MB`);
  out(`  peak V8 heap total                 ${fmt(mine.map((r) => r.peakHeapTotal / 1e6))} MB`);
  out(
    `  RSS at rest                        ${fmt(mine.map((r) => (r.rest.rssAnon + r.rest.rssFile) / 1e6))} MB`,
  );
  out(
    `    anonymous / file-backed          ${fmt(mine.map((r) => r.rest.rssAnon / 1e6))} / ${fmt(mine.map((r) => r.rest.rssFile / 1e6))} MB`,
  );
  out(`    least over the rest's 2nd half   ${fmt(mine.map((r) => r.restMinRss / 1e6))} MB`);
  out(
    `  V8 heap used / total at rest       ${fmt(mine.map((r) => r.rest.heapUsed / 1e6))} / ${fmt(mine.map((r) => r.rest.heapTotal / 1e6))} MB`,
  );
  out(`  external (Buffers) at rest         ${fmt(mine.map((r) => r.rest.external / 1e6))} MB`);
  if (limitBytes !== undefined) {
    out(
      `  cgroup peak                        ${fmt(mine.map((r) => (r.groupPeak ?? NaN) / 1e6))} MB; OOM kills ${mine.map((r) => String(r.oomKills)).join(", ")}`,
    );
  }
  for (const run of mine) {
    out(`  load ${run.load}${run.failure === undefined ? "" : `; FAILED: ${run.failure}`}`);
    if (values.timeline) {
      out(`    tenth  pulled   s      RSS MB  heap used/total MB`);
      run.tenths.forEach((s, k) => {
        out(
          `    ${String(k + 1).padStart(5)}  ${String(s.pulled).padStart(6)}  ${s.seconds.toFixed(0).padStart(5)}  ${mb(s.rssAnon + s.rssFile).padStart(6)}  ${mb(s.heapUsed)}/${mb(s.heapTotal)}`,
        );
      });
      out(
        `    at rest, every ${values.sample}: RSS MB ${run.restSeries.map((s) => mb(s.rssAnon + s.rssFile)).join(" ")}`,
      );
      out(`                   heap total MB ${run.restSeries.map((s) => mb(s.heapTotal)).join(" ")}`);
    }
  }
}
