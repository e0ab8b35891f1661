import { z } from "zod";
import { FAILURE_KINDS } from "../failure/index.ts";
import { ENTRY_STATES, type EntryState } from "../warm/index.ts";

/**
 * The document an agent serves at GET /v1/status: the server types what it sends with it, and
 * `prepull wait` parses what it reads with it, so the two cannot drift apart. Unknown fields are
 * dropped rather than refused, so a newer agent that adds one still reads as a prepull agent.
 */

const time = z.iso.datetime();
const count = z.number().int().nonnegative();

const entryStatusSchema = z.object({
  image: z.string(),
  /** Intended digest, or the one the runtime recorded when none was declared. */
  digest: z.string().nullable(),
  state: z.enum(ENTRY_STATES),
  imageId: z.string().nullable(),
  size: count.nullable(),
  /** Failed attempts since the entry was last present. */
  attempts: count,
  lastPullSeconds: z.number().nonnegative().nullable(),
  errorKind: z.enum(FAILURE_KINDS).nullable(),
  message: z.string().nullable(),
  /** When the next attempt starts while backing off. */
  nextRetryAt: time.nullable(),
  /** Where the registry's tag points now, for a drifted entry. */
  registryDigest: z.string().nullable(),
  /** Where prepull got the content from; null when the node already held it. */
  source: z.enum(["bundle", "registry"]).nullable().default(null),
  /** Whether kubelet's image GC skips the entry's image; null while pinning is unavailable or unknown. */
  pinned: z.boolean().nullable().default(null),
  /** Why it is pinned or not (`pinned`, `pinned-elsewhere`, `budget`, `opted-out`, `absent`). */
  pinReason: z.string().nullable().default(null),
  /**
   * Bytes downloaded so far while the entry is pulling, from containerd's content store; null
   * when not pulling, when several pulls run at once (their downloads cannot be told apart), or
   * where the runtime cannot say.
   */
  progress: z.object({ doneBytes: count, totalBytes: count }).nullable().default(null),
});

const summaryShape = Object.fromEntries(ENTRY_STATES.map((state) => [state, count])) as Record<
  EntryState,
  typeof count
>;

export const agentStatusSchema = z.object({
  node: z.string(),
  version: z.string(),
  startedAt: time,
  generation: z.string(),
  warm: z.boolean(),
  config: z.object({
    files: z.array(z.string()).readonly(),
    sets: z.array(z.string()).readonly(),
    /** Files holding no document: allowed, shown so a blanked ConfigMap key is not silent. */
    emptyFiles: z.array(z.string()).readonly().default([]),
    error: z.object({ message: z.string(), at: time }).nullable(),
  }),
  runtime: z.object({
    endpoint: z.string(),
    reachable: z.boolean(),
    lastContactAt: time.nullable(),
    error: z.string().nullable(),
    name: z.string().nullable(),
    version: z.string().nullable(),
    apiVersion: z.string().nullable(),
    /** How well prepull supports this runtime version, and what it can do there; null until known. */
    support: z
      .object({
        level: z.enum(["supported", "end_of_life", "untested"]),
        note: z.string().nullable(),
        pinning: z.boolean(),
        artifacts: z.boolean(),
        /** Bundles can be imported (containerd 1.7 on); older agents do not say. */
        imports: z.boolean().default(false),
      })
      .nullable()
      .default(null),
  }),
  lastPass: z.object({ at: time, seconds: z.number().nonnegative() }).nullable(),
  summary: z.object({ ...summaryShape, total: count }),
  /** Pins against kubelet's image GC (docs/pinning.md); older agents report none. */
  pins: z
    .object({
      available: z.boolean(),
      /** Why pinning is unavailable, or why nothing is pinned although it is available. */
      reason: z.string().nullable(),
      /** Images prepull pins, and their bytes (CRI size). */
      count,
      bytes: count,
      /** The pin budget in bytes; null while unknown. */
      budgetBytes: count.nullable(),
    })
    .default({
      available: false,
      reason: "the agent does not report pins",
      count: 0,
      bytes: 0,
      budgetBytes: null,
    }),
  /**
   * The readiness gate (docs/readiness-gate.md): open once the node's gated images were warm, or
   * its deadline opened it. Older agents report none.
   */
  gate: z
    .object({
      open: z.boolean(),
      reason: z.string(),
      message: z.string(),
      openedAt: time.nullable(),
      deadlineAt: time.nullable(),
    })
    .nullable()
    .default(null),
  entries: z.array(entryStatusSchema).readonly(),
});

/** What the agent sends; its lists are read-only, so the agent may hand out the ones it holds. */
export type AgentStatus = z.output<typeof agentStatusSchema>;
export type ReportedEntry = AgentStatus["entries"][number];
