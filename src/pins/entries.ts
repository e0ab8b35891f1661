import type { ImageSetEntry } from "../imageset/index.ts";
import { entryKey, type ScheduledEntry } from "../warm/index.ts";
import { pinNames, type PinEntry } from "./plan.ts";

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
