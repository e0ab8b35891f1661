export { agentStatusSchema, type AgentStatus, type ReportedEntry } from "./schema.ts";
