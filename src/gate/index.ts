export { BootstrapGate, type DeadlineAction, type GatePolicy, type GateState } from "./bootstrap.ts";
export { judgeGate, type GateEntry, type GateReason, type GateVerdict } from "./verdict.ts";
export { GATE_CONDITION, NodeGateReporter, type GateLogger, type NodeGateOptions } from "./node-reporter.ts";
export { gateEntryOf, ungatedOf } from "./entries.ts";
