export { agentStatusSchema, entryStatusSchema, type AgentStatus, type ReportedEntry } from "./schema.ts";
