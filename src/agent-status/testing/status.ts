import { ENTRY_STATES } from "../../warm/index.ts";
import type { AgentStatus, ReportedEntry } from "../schema.ts";

const EPOCH = new Date(0).toISOString();
// Shared by every document built here, as an agent shares the lists it holds between its answers.
const FILES: readonly string[] = ["/etc/prepull/set.yaml"];
const SETS: readonly string[] = ["web"];
const NO_FILES: readonly string[] = [];

/** An entry as an agent reports it: pending, nothing known about it yet, unless `changes` say. */
export function reportedEntry(image: string, changes: Partial<ReportedEntry> = {}): ReportedEntry {
  return {
    image,
    digest: null,
    state: "pending",
    imageId: null,
    size: null,
    attempts: 0,
    lastPullSeconds: null,
    errorKind: null,
    message: null,
    nextRetryAt: null,
    registryDigest: null,
    source: null,
    pinned: null,
    pinReason: null,
    progress: null,
    ...changes,
  };
}

/** Fields to set; `config` and `runtime` are merged into the defaults field by field. */
export interface StatusChanges extends Partial<Omit<AgentStatus, "config" | "runtime">> {
  readonly config?: Partial<AgentStatus["config"]>;
  readonly runtime?: Partial<AgentStatus["runtime"]>;
}

/**
 * A whole /v1/status document, every field set: node-a on containerd 2.1.9 with one ImageSet, no
 * pass yet, no gate, pinning available. Unless `changes` set them, `summary` counts the entries and
 * `warm` says whether every one is present.
 */
export function agentStatus(changes: StatusChanges = {}): AgentStatus {
  const { config, runtime, ...rest } = changes;
  const entries = changes.entries ?? [];
  const summary = {
    ...(Object.fromEntries(ENTRY_STATES.map((state) => [state, 0])) as Record<
      ReportedEntry["state"],
      number
    >),
    total: entries.length,
  };
  for (const { state } of entries) summary[state] += 1;
  return {
    node: "node-a",
    version: "test",
    startedAt: EPOCH,
    generation: "g1",
    warm: entries.every((entry) => entry.state === "present"),
    lastPass: null,
    gate: null,
    summary,
    pins: { available: true, reason: null, count: 0, bytes: 0, budgetBytes: null },
    entries,
    ...rest,
    config: { files: FILES, sets: SETS, emptyFiles: NO_FILES, error: null, ...config },
    runtime: {
      endpoint: "unix:///run/containerd/containerd.sock",
      reachable: true,
      lastContactAt: null,
      error: null,
      name: "containerd",
      version: "2.1.9",
      apiVersion: "v1",
      support: null,
      ...runtime,
    },
  };
}
