import type { AgentStatus } from "../agent-status/index.ts";

/** What the status server asks the agent. */
export interface AgentView {
  status(): AgentStatus;
  health(): { ok: boolean; reason: string };
  readiness(): { ok: boolean; reason: string };
}
