/** The pod start benchmark's report: per scenario, per-pod percentiles, spread and ratios. */
import type { BenchImages, StartSample } from "./pod-start-cluster.ts";
import { spread } from "./support.ts";

export type Scenario = "cold-serial" | "cold-parallel" | "warmed" | "floor";

export interface ReportInput {
  readonly samples: ReadonlyMap<Scenario, readonly StartSample[]>;
  readonly warmSeconds: readonly number[];
  /** The floor measured right after each warmed start, in the same cluster. */
  readonly pairedFloor: readonly StartSample[];
  readonly images: BenchImages | undefined;
  readonly versions: readonly string[];
  readonly runs: number;
  readonly replicas: number;
  readonly parallelPulls: number;
  /** The machine's 1-minute load average when the benchmark started and when it ended. */
  readonly load: readonly [number, number];
}

const MB = 1_000_000;

/** Nearest-rank percentile. */
function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

function figures(starts: readonly StartSample[]) {
  const stamped = starts.flatMap((s) => s.stamped);
  const watched = starts.flatMap((s) => s.watched);
  const levels = (values: number[]) => ({
    p50: percentile(values, 0.5),
    p99: percentile(values, 0.99),
    max: Math.max(...values),
  });
  return {
    stamped: levels(stamped),
    watched: levels(watched),
    pods: watched.length,
    runP50: spread(starts.map((s) => percentile(s.watched, 0.5))),
    runP99: spread(starts.map((s) => percentile(s.watched, 0.99))),
    allReady: spread(starts.map((s) => s.allReady)),
    pulls: spread(starts.map((s) => s.kubeletPulls)),
    starts: starts.length,
  };
}
type Figures = ReturnType<typeof figures>;

const sec = (seconds: number): string => `${seconds.toFixed(2)} s`;
const range = (v: { median: number; min: number; max: number }, unit = " s"): string =>
  `${v.median.toFixed(2)}${unit} (${v.min.toFixed(2)}–${v.max.toFixed(2)})`;
const times = (value: number): string => `${value.toFixed(2)}×`;

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => cell.padEnd(widths[i] ?? 0))
    .join(" ")
    .trimEnd();
}

export function writeReport(out: NodeJS.WritableStream, input: ReportInput): void {
  const write = (line = ""): void => {
    out.write(`${line}\n`);
  };
  const labels: Record<Scenario, string> = {
    "cold-serial": "(a) cold, serialized pulls (default)",
    "cold-parallel": `(a) cold, ${input.parallelPulls} parallel pulls`,
    warmed: "(b) warmed by prepull",
    floor: "(c) floor: images present",
  };
  const all = new Map(
    (["cold-serial", "cold-parallel", "warmed", "floor"] as const).map((key) => [
      key,
      figures(input.samples.get(key) ?? []),
    ]),
  );
  const get = (key: Scenario): Figures => all.get(key) ?? figures([]);
  const perImage = (input.images?.containers ?? []).map(
    ({ name, image }) => `${name} ${(image.platformSize / MB).toFixed(0)}`,
  );
  write(
    `Deployment of ${input.replicas} replicas, each pod 1 init + 3 containers over 4 images sharing a base ` +
      `layer (compressed MB: ${perImage.join(", ")}; ${((input.images?.distinctBytes ?? 0) / MB).toFixed(0)} MB ` +
      `of distinct blobs), imagePullPolicy IfNotPresent; ${input.runs} runs, a fresh cluster per scenario and run`,
  );
  write(`versions: ${input.versions.join(", ")}`);
  write(
    `load average (1 min): ${input.load[0].toFixed(2)} at the start, ${input.load[1].toFixed(2)} at the end`,
  );
  write();
  const pooledWidths = [46, 17, 26, 11];
  write(`every pod of every start, pooled (p99 is the maximum below 100 pods):`);
  write(row(["", "pods' timestamps", "watched per pod", "kubelet"], pooledWidths));
  write(
    row(["scenario (starts, pods)", "p50  p99  max", "p50     p99     max", "pulls/start"], pooledWidths),
  );
  for (const [key, f] of all) {
    write(
      row(
        [
          `${labels[key]} (${f.starts}, ${f.pods})`,
          [f.stamped.p50, f.stamped.p99, f.stamped.max].map((v) => `${v.toFixed(0)} s`.padEnd(5)).join(""),
          [f.watched.p50, f.watched.p99, f.watched.max].map((v) => sec(v).padEnd(8)).join(""),
          String(f.pulls.median),
        ],
        pooledWidths,
      ),
    );
  }
  write(
    "pods' timestamps: creationTimestamp to the Ready condition's lastTransitionTime, both in whole seconds; " +
      "watched: first seen to first seen Ready by the benchmark's watch (ms)",
  );
  write();
  const runWidths = [38, 22, 22, 22];
  write(`per start, median (min–max) over starts:`);
  write(row(["scenario", "watched p50", "watched p99", "Deployment → all Ready"], runWidths));
  for (const [key, f] of all) {
    write(row([labels[key], range(f.runP50), range(f.runP99), range(f.allReady)], runWidths));
  }
  write();
  const ratio = (top: Scenario, bottom: Scenario): string => {
    const [a, b] = [get(top), get(bottom)];
    return [
      `p50 ${times(a.stamped.p50 / b.stamped.p50)} stamped, ${times(a.runP50.median / b.runP50.median)} watched`,
      `p99 ${times(a.stamped.p99 / b.stamped.p99)} stamped, ${times(a.runP99.median / b.runP99.median)} watched`,
      `all Ready ${times(a.allReady.median / b.allReady.median)}`,
    ].join("; ");
  };
  write("ratios (stamped: pooled pods; watched and all Ready: medians over starts):");
  write(`(b)/(c) warmed / floor:            ${ratio("warmed", "floor")}`);
  write(`(a)/(b) cold serialized / warmed:  ${ratio("cold-serial", "warmed")}`);
  write(`(a)/(b) cold parallel / warmed:    ${ratio("cold-parallel", "warmed")}`);
  const paired = (input.samples.get("warmed") ?? []).map((warm, i) => {
    const floor = input.pairedFloor[i];
    return floor === undefined ? NaN : warm.allReady / floor.allReady;
  });
  write(`(b)/(c) all Ready, paired in each warmed cluster: ${range(spread(paired), "×")}`);
  const [warmed, floor] = [get("warmed"), get("floor")];
  const within = Math.max(
    warmed.runP50.median / floor.runP50.median,
    warmed.allReady.median / floor.allReady.median,
  );
  write(
    `target, warmed within 10% of the floor (watched p50 and all Ready): ${within <= 1.1 ? "met" : "missed"} ` +
      `(${times(within)})`,
  );
  write(
    `prepull warm of the 4 images, before the Deployment (not in the figures above): ${range(spread(input.warmSeconds))}`,
  );
}
