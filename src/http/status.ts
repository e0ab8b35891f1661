import type { EntryState, EntryStatus, RuntimeStatus } from "../warm/index.ts";

/** The JSON served at GET /v1/status. */
export interface AgentStatus {
  readonly node: string;
  readonly version: string;
  readonly startedAt: string;
  readonly generation: string;
  readonly warm: boolean;
  readonly config: {
    readonly files: readonly string[];
    readonly sets: readonly string[];
    readonly error: { readonly message: string; readonly at: string } | null;
  };
  readonly runtime: RuntimeStatus;
  readonly lastPass: { readonly at: string; readonly seconds: number } | null;
  readonly summary: Record<EntryState, number> & { total: number };
  readonly entries: readonly EntryStatus[];
}

/** What the status server asks the agent. */
export interface AgentView {
  status(): AgentStatus;
  health(): { ok: boolean; reason: string };
  readiness(): { ok: boolean; reason: string };
}
