/** Small helpers shared by the benchmarks. */
import type { ContainerdInstance } from "../test/sandbox/index.ts";

/** Names the runtime a figure was measured on, for every report. */
export function runtimeLine(containerd: ContainerdInstance): string {
  return `containerd ${containerd.runtime.version} (${containerd.runtime.name})`;
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
