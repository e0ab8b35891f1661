export { createAgentMetrics, type AgentMetrics, type StatusOverview } from "./metrics.ts";
export { startStatusServer, type StatusServer } from "./server.ts";
export type { AgentStatus } from "../agent-status/index.ts";
export type { AgentView } from "./status.ts";
