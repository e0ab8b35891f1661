import type { ImageSetEntry } from "../imageset/index.ts";
import { entryKey, type ScheduledEntry } from "../warm/index.ts";
import type { GateEntry } from "./verdict.ts";

/** The keys of entries no gating set names (`spec.gate: false` on every set that does). */
export const ungatedOf = (entries: readonly ImageSetEntry[]): Set<string> =>
  new Set(entries.filter((entry) => entry.gate === false).map(entryKey));

export function gateEntryOf({ key, status }: ScheduledEntry, ungated: ReadonlySet<string>): GateEntry {
  return { image: status.image, state: status.state, errorKind: status.errorKind, gated: !ungated.has(key) };
}
