import type { AgentStatus, ReportedEntry } from "../agent-status/index.ts";

export type { ReportedEntry };
export type ReportedStatus = AgentStatus;

/** One agent's answer, or why there was none. `agent` is the address it was asked at. */
export interface AgentReport {
  readonly agent: string;
  readonly status?: ReportedStatus;
  readonly error?: string;
}
