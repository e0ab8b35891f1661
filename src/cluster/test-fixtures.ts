// Agent reports as `prepull wait` reads them, for the cluster folder's tests.
import { agentStatus, reportedEntry, type StatusChanges } from "../agent-status/testing/index.ts";
import type { AgentReport, ReportedEntry } from "./report.ts";

export const DIGEST = `sha256:${"a".repeat(64)}`;
export const OTHER = `sha256:${"b".repeat(64)}`;

/** An entry locked at DIGEST, present unless `state` says otherwise. */
export function entry(
  image: string,
  state: ReportedEntry["state"] = "present",
  extra: Partial<ReportedEntry> = {},
): ReportedEntry {
  return reportedEntry(image, {
    digest: DIGEST,
    state,
    imageId: state === "present" ? DIGEST : null,
    ...extra,
  });
}

/** `node`'s agent, answering at `node:8080` with these entries, warm when every one is present. */
export function agent(node: string, entries: ReportedEntry[], changes: StatusChanges = {}): AgentReport {
  return { agent: `${node}:8080`, status: agentStatus({ node, entries, ...changes }) };
}
