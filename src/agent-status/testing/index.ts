/** Test support for the status contract, imported by tests only: full documents to start from. */
export { agentStatus, reportedEntry, type StatusChanges } from "./status.ts";
