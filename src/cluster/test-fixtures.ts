// Agent reports as `prepull wait` reads them, for the cluster folder's tests.
import type { AgentReport, ReportedEntry, ReportedStatus } from "./report.ts";

export const DIGEST = `sha256:${"a".repeat(64)}`;
export const OTHER = `sha256:${"b".repeat(64)}`;

export function entry(
  image: string,
  state: ReportedEntry["state"] = "present",
  extra: Partial<ReportedEntry> = {},
): ReportedEntry {
  return {
    image,
    digest: DIGEST,
    state,
    imageId: state === "present" ? DIGEST : null,
    size: null,
    attempts: 0,
    lastPullSeconds: null,
    errorKind: null,
    message: null,
    nextRetryAt: null,
    registryDigest: null,
    pinned: null,
    pinReason: null,
    progress: null,
    ...extra,
  };
}

export interface StatusChanges extends Partial<Omit<ReportedStatus, "config" | "runtime">> {
  readonly config?: Partial<ReportedStatus["config"]>;
  readonly runtime?: Partial<ReportedStatus["runtime"]>;
}

export function agent(node: string, entries: ReportedEntry[], changes: StatusChanges = {}): AgentReport {
  const at = new Date(0).toISOString();
  const summary = { pending: 0, pulling: 0, present: 0, failed: 0, blocked: 0, drifted: 0, total: 0 };
  for (const { state } of entries) summary[state] += 1;
  summary.total = entries.length;
  const { config, runtime, ...rest } = changes;
  return {
    agent: `${node}:8080`,
    status: {
      node,
      version: "test",
      startedAt: at,
      generation: "g1",
      warm: entries.every((e) => e.state === "present"),
      lastPass: { at, seconds: 0.01 },
      gate: null,
      summary,
      pins: { available: true, reason: null, count: 0, bytes: 0, budgetBytes: null },
      entries,
      ...rest,
      config: { files: ["set.yaml"], sets: ["web"], emptyFiles: [], error: null, ...config },
      runtime: {
        endpoint: "unix:///run/containerd/containerd.sock",
        reachable: true,
        lastContactAt: at,
        error: null,
        name: "containerd",
        version: "2.1.9",
        apiVersion: "v1",
        support: null,
        ...runtime,
      },
    },
  };
}
