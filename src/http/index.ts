export { createAgentMetrics, type AgentMetrics } from "./metrics.ts";
export { ListenAddressError, parseListenAddress, startStatusServer, type StatusServer } from "./server.ts";
export type { AgentStatus, AgentView } from "./status.ts";
