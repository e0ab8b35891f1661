import { z } from "zod";

/**
 * The part of an agent's /v1/status the barrier reads. Parsed at the boundary: an answer from
 * something that is not a prepull agent (or an incompatible one) is an error, not a guess.
 */
const reportedEntry = z.object({
  image: z.string(),
  digest: z.string().nullable(),
  state: z.string(),
  errorKind: z.string().nullable(),
  message: z.string().nullable(),
});

export const agentStatusSchema = z.object({
  node: z.string(),
  generation: z.string(),
  warm: z.boolean(),
  config: z.object({ error: z.object({ message: z.string() }).nullable() }),
  runtime: z.object({ reachable: z.boolean(), error: z.string().nullable() }),
  entries: z.array(reportedEntry),
});

export type ReportedEntry = z.infer<typeof reportedEntry>;
export type ReportedStatus = z.infer<typeof agentStatusSchema>;

/** One agent's answer, or why there was none. `agent` is the address it was asked at. */
export interface AgentReport {
  readonly agent: string;
  readonly status?: ReportedStatus;
  readonly error?: string;
}
