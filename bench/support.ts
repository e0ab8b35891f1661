/** Small helpers shared by the benchmarks. */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import PQueue from "p-queue";
import {
  pushImage,
  tagImage,
  type ContainerdInstance,
  type RegistryInstance,
} from "../test/sandbox/index.ts";

/** Names the runtime a figure was measured on, for every report. */
export function runtimeLine(containerd: ContainerdInstance): string {
  return `containerd ${containerd.runtime.version} (${containerd.runtime.name})`;
}

/**
 * What the container image sets for Node (its Dockerfile's ENV): NODE_OPTIONS and the allocator's
 * variables, so an agent measured here runs with the settings that ship.
 */
export function imageEnvironment(): {
  readonly nodeOptions: string;
  readonly allocator: Record<string, string>;
} {
  const dockerfile = readFileSync(new URL("../Dockerfile", import.meta.url), "utf8");
  const env: Record<string, string> = {};
  for (const match of dockerfile.replaceAll("\\\n", " ").matchAll(/^ENV (.*)$/gm)) {
    for (const pair of (match[1] ?? "").matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) {
      env[pair[1] ?? ""] = (pair[2] ?? "").replace(/^"(.*)"$/, "$1");
    }
  }
  const { NODE_OPTIONS: nodeOptions = "", ...rest } = env;
  const allocator = Object.entries(rest).filter(([name]) => /^(MALLOC_|GLIBC_TUNABLES)/.test(name));
  return { nodeOptions, allocator: Object.fromEntries(allocator) };
}

/** The machine's load averages over 1, 5 and 15 minutes, for a report to say how quiet it was. */
export function loadAverages(digits = 1): string {
  return loadavg()
    .map((v) => v.toFixed(digits))
    .join(" ");
}

export function spread(samples: readonly number[]): { median: number; min: number; max: number } {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return (performance.now() - started) / 1000;
}

/** Runs every method `rounds` times, interleaved, and prints medians with ratios to `baseline`. */
export async function compare(
  title: string,
  methods: Record<string, () => Promise<unknown>>,
  rounds: number,
  baseline: string,
): Promise<Map<string, number>> {
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round += 1) {
    for (const [name, method] of Object.entries(methods)) {
      samples.set(name, [...(samples.get(name) ?? []), await timed(method)]);
    }
  }
  const medians = new Map([...samples].map(([name, values]) => [name, median(values)]));
  const base = medians.get(baseline) ?? 0;
  process.stdout.write(`${title} (${rounds} rounds, medians)\n`);
  for (const [name, seconds] of medians) {
    const ratio = name === baseline ? "" : `   ${(seconds / base).toFixed(1)}× the time of ${baseline}`;
    process.stdout.write(`  ${name.padEnd(34)} ${seconds.toFixed(3)} s${ratio}\n`);
  }
  return medians;
}

/** The value of the first sample line of `name` (with its labels) in a Prometheus text page. */
export function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name));
  return Number(line?.split(" ").at(-1) ?? NaN);
}

/**
 * Pushes `count` names: images of 1 KB under 20 tags each (`t0` … `t19`), a few requests at a
 * time. Many names, few bytes.
 */
export async function pushTaggedSet(registry: RegistryInstance, count: number): Promise<string[]> {
  const tagsPerImage = 20;
  const queue = new PQueue({ concurrency: 8 });
  const images = Math.ceil(count / tagsPerImage);
  const references: string[][] = await Promise.all(
    Array.from({ length: images }, (_, i) =>
      queue.add(async () => {
        const repository = `bench/svc-${String(i)}`;
        const image = await pushImage(registry, { repository, tag: "t0", seed: `scale-${String(i)}` });
        const tags = Array.from({ length: tagsPerImage - 1 }, (_, t) => `t${String(t + 1)}`);
        for (const tag of tags) await tagImage(registry, repository, image.digest, tag);
        return [image.reference, ...tags.map((tag) => `${image.repository}:${tag}`)];
      }),
    ),
  );
  return references.flat().slice(0, count);
}

/**
 * Completions per second in each tenth of `done` (sorted completion times, epoch ms), the first
 * tenth measured from `start`.
 */
export function ratesPerTenth(start: number, done: readonly number[]): number[] {
  const tenth = done.length / 10;
  return Array.from({ length: 10 }, (_, k) => {
    const from = k === 0 ? start : (done[Math.round(k * tenth) - 1] ?? start);
    const to = done[Math.round((k + 1) * tenth) - 1] ?? from;
    const count = Math.round((k + 1) * tenth) - Math.round(k * tenth);
    return count / Math.max((to - from) / 1000, 0.001);
  });
}

const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
  // Fields after the command name, which may hold spaces: utime is field 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU per completed item in each tenth of a run, for several processes: `update` is told how
 * many items are done and reads the processes' CPU as each tenth is crossed.
 */
export class CpuPerTenth {
  readonly #total: number;
  readonly #pids: Readonly<Record<string, number>>;
  readonly #marks: Array<{ done: number; cpu: Record<string, number> }> = [];

  constructor(total: number, pids: Readonly<Record<string, number>>) {
    this.#total = total;
    this.#pids = pids;
    this.#mark(0);
  }

  update(done: number): void {
    const next = Math.round((this.#marks.length * this.#total) / 10);
    if (this.#marks.length <= 10 && done >= next) this.#mark(done);
  }

  /** Milliseconds of CPU per item, per process, for each tenth. */
  perItemMs(): Record<string, number[]> {
    const pairs = this.#marks.slice(1).map((mark, k) => [this.#marks[k], mark] as const);
    return Object.fromEntries(
      Object.keys(this.#pids).map((name) => [
        name,
        pairs.map(([from, to]) =>
          from === undefined
            ? NaN
            : (((to.cpu[name] ?? 0) - (from.cpu[name] ?? 0)) * 1000) / (to.done - from.done),
        ),
      ]),
    );
  }

  #mark(done: number): void {
    const cpu = Object.fromEntries(Object.entries(this.#pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
    this.#marks.push({ done, cpu });
  }
}
