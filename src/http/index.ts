export { createLogger } from "./logger.ts";
export { createAgentMetrics, type AgentMetrics } from "./metrics.ts";
export { startStatusServer, type StatusServer } from "./server.ts";
export type { AgentStatus, AgentView } from "./status.ts";
