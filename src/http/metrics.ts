import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CallObserver } from "../cri/index.ts";
import { ENTRY_STATES, type WarmLoopEvents } from "../warm/index.ts";
import type { AgentStatus } from "../agent-status/index.ts";
import { FAILURE_KINDS } from "../failure/index.ts";
import { registerFleetMetrics, type FleetSource } from "./fleet-metrics.ts";
import { registerGateMetrics, type GateSource } from "./gate-metrics.ts";

export interface AgentMetrics {
  readonly registry: Registry;
  readonly events: WarmLoopEvents;
  readonly criObserver: CallObserver;
  configReloaded(generation: string): void;
  configFailed(): void;
  pinPassed(result: "full" | "unchanged" | "error"): void;
  /** The readiness gate opened this long after the agent started. */
  gateOpened(seconds: number): void;
}

/** The part of the status the gauges read: no entries, so a scrape costs the same at any size. */
export type StatusOverview = Pick<AgentStatus, "warm" | "summary" | "runtime" | "pins">;

/**
 * prom-client's default gauges whose names end in `_total`, which Prometheus reserves for counters
 * (`promtool check metrics` flags them); the same counts by type stay, without the suffix.
 */
const MISNAMED_DEFAULTS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/**
 * The agent's `prepull_` metrics. Gauges are read from the status at scrape time; counters and
 * histograms follow events. Only the few drift series carry an image name (see fleet-metrics.ts),
 * so cardinality stays bounded whatever the size of the set.
 */
export function createAgentMetrics(
  source: { status(): StatusOverview; gateStatus?: GateSource },
  fleet?: FleetSource,
): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  const registers = [registry];

  new Gauge({
    name: "prepull_entries",
    help: "Entries of the desired set by state.",
    labelNames: ["state"],
    registers,
    collect() {
      const { summary } = source.status();
      for (const state of ENTRY_STATES) this.set({ state }, summary[state]);
    },
  });
  new Gauge({
    name: "prepull_warm",
    help: "1 when every entry of the current generation is present.",
    registers,
    collect() {
      this.set(source.status().warm ? 1 : 0);
    },
  });
  new Gauge({
    name: "prepull_runtime_up",
    help: "1 when the container runtime answered the last call.",
    registers,
    collect() {
      this.set(source.status().runtime.reachable ? 1 : 0);
    },
  });
  new Gauge({
    name: "prepull_pinned_images",
    help: "Images prepull pins against kubelet's image GC.",
    registers,
    collect() {
      this.set(source.status().pins.count);
    },
  });
  new Gauge({
    name: "prepull_pinned_bytes",
    help: "Bytes (CRI image size) of the images prepull pins.",
    registers,
    collect() {
      this.set(source.status().pins.bytes);
    },
  });
  new Gauge({
    name: "prepull_pin_budget_bytes",
    help: "Bytes pinned images may take (--pin-budget of the image filesystem); 0 while unknown or pinning is unavailable.",
    registers,
    collect() {
      this.set(source.status().pins.budgetBytes ?? 0);
    },
  });
  const generationInfo = new Gauge({
    name: "prepull_config_generation_info",
    help: "The generation of the desired set in force.",
    labelNames: ["generation"],
    registers,
  });
  const configError = new Gauge({
    name: "prepull_config_error",
    help: "1 while the newest ImageSet files are invalid and the last good set is kept.",
    registers,
  });
  const configErrors = new Counter({
    name: "prepull_config_errors_total",
    help: "Invalid ImageSet versions seen.",
    registers,
  });
  const configReloads = new Counter({
    name: "prepull_config_reloads_total",
    help: "Desired sets taken into force.",
    registers,
  });
  const pulls = new Counter({
    name: "prepull_pulls_total",
    help: "Entries worked on, by result (pulled, present, drifted, failed, blocked).",
    labelNames: ["result"],
    registers,
  });
  const pullFailures = new Counter({
    name: "prepull_pull_failures_total",
    help: "Attempts at an entry that failed or were blocked, by failure kind.",
    labelNames: ["kind"],
    registers,
  });
  // Every kind from 0, so that rate() sees an entry's first failure too.
  for (const kind of FAILURE_KINDS) pullFailures.inc({ kind }, 0);
  const pullDuration = new Histogram({
    name: "prepull_pull_duration_seconds",
    help: "Time to warm an entry that needed pulls.",
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers,
  });
  const pulledBytes = new Counter({
    name: "prepull_pulled_bytes_total",
    help: "Compressed bytes of the images pulled.",
    registers,
  });
  const warmed = new Counter({
    name: "prepull_warmed_total",
    help: "Entries prepull put on the node, by where the content came from (bundle or registry).",
    labelNames: ["source"],
    registers,
  });
  for (const from of ["bundle", "registry"]) warmed.inc({ source: from }, 0);
  const passes = new Counter({
    name: "prepull_passes_total",
    help: "Warm passes, by result.",
    labelNames: ["result"],
    registers,
  });
  const passDuration = new Histogram({
    name: "prepull_pass_duration_seconds",
    help: "Time of one warm pass (inventory and planning; pulls run after it).",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers,
  });
  const pinPasses = new Counter({
    name: "prepull_pin_passes_total",
    help: "Pin passes, by result: full (containerd's records read), unchanged (nothing to do), error.",
    labelNames: ["result"],
    registers,
  });
  const criCalls = new Counter({
    name: "prepull_cri_calls_total",
    help: "CRI calls by method and result.",
    labelNames: ["method", "result"],
    registers,
  });
  const criDuration = new Histogram({
    name: "prepull_cri_call_duration_seconds",
    help: "CRI call latency by method.",
    labelNames: ["method"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers,
  });

  if (fleet !== undefined) registerFleetMetrics(registry, fleet);
  const gate = registerGateMetrics(registry, source.gateStatus ?? (() => null));

  return {
    registry,
    events: {
      onPull(result) {
        pulls.inc({ result: result.outcome });
        if (result.outcome === "pulled" && result.source !== undefined) warmed.inc({ source: result.source });
        if (result.outcome === "failed" || result.outcome === "blocked") {
          pullFailures.inc({ kind: result.errorKind ?? "runtime" });
        }
        if (result.pulls.length > 0) {
          pullDuration.observe(result.seconds);
          if (result.outcome === "pulled" && result.size !== undefined) pulledBytes.inc(result.size);
        }
      },
      onPass(pass) {
        passes.inc({ result: pass.ok ? "ok" : "error" });
        if (pass.ok) passDuration.observe(pass.seconds);
      },
    },
    criObserver({ method, durationMs, ok }) {
      criCalls.inc({ method, result: ok ? "ok" : "error" });
      criDuration.observe({ method }, durationMs / 1000);
    },
    configReloaded(generation) {
      generationInfo.reset();
      generationInfo.set({ generation }, 1);
      configError.set(0);
      configReloads.inc();
    },
    configFailed() {
      configErrors.inc();
      configError.set(1);
    },
    pinPassed(result) {
      pinPasses.inc({ result });
    },
    gateOpened(seconds) {
      gate.opened(seconds);
    },
  };
}
