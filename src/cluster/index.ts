export { formatAddress, parseAgentAddress, type AgentAddress } from "./address.ts";
export {
  judgeBarrier,
  judgeNode,
  type BarrierVerdict,
  type MissingImage,
  type NodeState,
  type NodeVerdict,
  type WaitTarget,
} from "./barrier.ts";
export type { AgentReport, ReportedStatus } from "./report.ts";
export {
  statusRequestTimeout,
  waitForAgents,
  type AgentSource,
  type ExpectedAgents,
  type WaitOutcome,
} from "./wait.ts";
export { daemonSetExpectation, type KubeConnection } from "./expected-agents.ts";
