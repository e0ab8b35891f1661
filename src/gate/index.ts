export { BootstrapGate, type DeadlineAction, type GatePolicy, type GateState } from "./bootstrap.ts";
export { judgeGate, type GateEntry, type GateReason, type GateVerdict } from "./verdict.ts";
export { NodeGateReporter, type GateLogger, type NodeGateOptions } from "./node-reporter.ts";
export { gateEntryOf, ungatedOf } from "./entries.ts";
export { checkNode, type CheckedEntry, type NodeCheck } from "./node-check.ts";
