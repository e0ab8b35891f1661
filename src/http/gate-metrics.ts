import { Gauge, Histogram, type Registry } from "prom-client";
import type { AgentStatus } from "../agent-status/index.ts";

/** The readiness gate as the gauges read it: the status's `gate`, null when the agent has none. */
export type GateSource = () => AgentStatus["gate"];

/** From the agent's start to the gate opening: seconds to a minute when warm, up to the deadline. */
const OPEN_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/**
 * The readiness gate's series: whether it is open, whether its deadline decided (opened it, or
 * holds it), and how long nodes took to open — one observation per agent, which Prometheus sums
 * into the fleet's distribution.
 */
export function registerGateMetrics(
  registry: Registry,
  gate: GateSource,
): { opened: (seconds: number) => void } {
  const registers = [registry];
  new Gauge({
    name: "prepull_gate_open",
    help: "1 when the readiness gate is open: the node's gated images were warm (or the deadline opened it).",
    registers,
    collect() {
      this.set(gate()?.open === true ? 1 : 0);
    },
  });
  new Gauge({
    name: "prepull_gate_deadline_exceeded",
    help: "1 when the gate's deadline passed before the node was warm (the gate opened anyway, or holds).",
    registers,
    collect() {
      const reason = gate()?.reason;
      this.set(reason === "DeadlineOpened" || reason === "DeadlineHeld" ? 1 : 0);
    },
  });
  const openAfter = new Histogram({
    name: "prepull_gate_open_delay_seconds",
    help: "Time from the agent's start to its readiness gate opening.",
    buckets: OPEN_BUCKETS,
    registers,
  });
  return {
    opened(seconds) {
      openAfter.observe(seconds);
    },
  };
}
