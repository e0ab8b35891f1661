import type { ReportedEntry } from "../agent-status/index.ts";
import type { EntryPinView } from "../pins/index.ts";
import type { EntryStatus } from "../warm/index.ts";

export type PullProgressView = ReportedEntry["progress"];

/**
 * Adds an entry's pin and pull progress to its status. One merged record per status record,
 * pin view and progress, so an unchanged entry is the same object and the status body cache
 * keeps its bytes.
 */
export function entryMerger(): (
  status: EntryStatus,
  pin: EntryPinView,
  progress: PullProgressView,
) => ReportedEntry {
  const merged = new WeakMap<
    EntryStatus,
    { pin: EntryPinView; progress: PullProgressView; entry: ReportedEntry }
  >();
  return (status, pin, progress) => {
    const last = merged.get(status);
    if (last?.pin === pin && last.progress === progress) return last.entry;
    const entry = { ...status, ...pin, progress };
    merged.set(status, { pin, progress, entry });
    return entry;
  };
}
