import type { AgentStatus } from "../agent-status/index.ts";

/** What the status server asks the agent. */
export interface AgentView {
  status(): AgentStatus;
  health(): { ok: boolean; reason: string };
  readiness(): { ok: boolean; reason: string };
  /** The readiness gate, for /v1/gate (the Node Readiness Controller's reporter reads it). */
  gate(): { open: boolean; reason: string; message: string };
}
