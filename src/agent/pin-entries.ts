import type { ReportedEntry } from "../agent-status/index.ts";
import type { ImageSetEntry } from "../imageset/index.ts";
import { entryKey, pinNames, type EntryStatus, type PinEntry, type ScheduledEntry } from "../warm/index.ts";
import type { EntryPinView } from "./pin-keeper.ts";

/** What the pin planner needs of one scheduled entry; `optedOut` holds the `pin: false` keys. */
export function pinEntryOf({ target, status }: ScheduledEntry, optedOut: ReadonlySet<string>): PinEntry {
  return {
    image: target.image,
    names: pinNames(target.reference, target.digest ?? status.digest ?? undefined),
    imageId: status.imageId ?? undefined,
    size: status.size ?? undefined,
    pin: !optedOut.has(entryKey(target)),
  };
}

export const optedOutOf = (entries: readonly ImageSetEntry[]): Set<string> =>
  new Set(entries.filter((entry) => entry.pin === false).map(entryKey));

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
