import type { ImageReference } from "../reference/index.ts";
import { digestName, effectiveTag, tagName } from "../warm/index.ts";

/**
 * Which names to pin so kubelet's image GC keeps the warm set (docs/pinning.md). Pure:
 * ./sync.ts reads the inventory through the PinStore port and applies the result.
 *
 * A pin is a label on one containerd image record, i.e. on one name; the runtime reports an
 * image as pinned when any of its names is. prepull pins the names pods use (so a pin follows
 * a tag that moves), marks those pins as its own, and removes only pins it marked.
 */

/**
 * The names pods use for an entry, fully qualified as the runtime records them: `N:T` (with
 * `latest` when the entry names neither tag nor digest, as kubelet looks it up) and `N@D` when
 * the digest is known.
 */
export function pinNames(reference: ImageReference, digest: string | undefined): string[] {
  const tag = effectiveTag(reference);
  return [
    ...(tag === undefined ? [] : [tagName(reference, tag)]),
    ...(digest === undefined ? [] : [digestName(reference, digest)]),
  ];
}

/** One warm entry as the pin planner sees it. */
export interface PinEntry {
  /** The entry as the set writes it, for status. */
  readonly image: string;
  /** The names pods use for it (`N:T`, `N@D`), fully qualified as the runtime records them. */
  readonly names: readonly string[];
  /** The image those names hold, `undefined` while the entry is not present. */
  readonly imageId: string | undefined;
  /** Bytes the image holds on disk (CRI `size`). */
  readonly size: number | undefined;
  /** `false` when the entry opts out of pinning. */
  readonly pin: boolean;
}

/** One image of the node, with what its records say about pins. */
export interface PinInventoryImage {
  readonly id: string;
  /** Every name the image is recorded under. */
  readonly names: readonly string[];
  /** Names carrying the pin label, whoever set it. */
  readonly pinnedNames: readonly string[];
  /** Names carrying prepull's owner mark (with or without the pin label). */
  readonly ownedNames: readonly string[];
}

export type PinReason =
  /** prepull pins the image. */
  | "pinned"
  /** Someone else pinned the image; prepull leaves it alone and does not charge the budget. */
  | "pinned-elsewhere"
  /** Pinning it would exceed the budget: kept warm, not pinned. */
  | "budget"
  /** The entry says `pin: false`. */
  | "opted-out"
  /** Not present yet: nothing to pin. */
  | "absent";

export interface EntryPin {
  readonly image: string;
  readonly pinned: boolean;
  readonly reason: PinReason;
}

export interface PinPlan {
  /** Names to label as pinned and prepull's. */
  readonly pin: readonly string[];
  /** Names to remove prepull's pin and mark from. */
  readonly unpin: readonly string[];
  readonly entries: readonly EntryPin[];
  /** Bytes pinned by prepull once the plan is applied. */
  readonly pinnedBytes: number;
}

interface ImageDecision {
  readonly reason: "pinned" | "pinned-elsewhere" | "budget";
  readonly pinned: boolean;
}

/**
 * An inventory image with its names as sets: one image may carry thousands of names (every tag
 * of a repository), and the plan asks about each of them.
 */
interface IndexedImage {
  readonly id: string;
  readonly names: readonly string[];
  readonly has: ReadonlySet<string>;
  readonly pinned: ReadonlySet<string>;
  readonly owned: ReadonlySet<string>;
  /** A name carries the pin label without prepull's mark: someone else pinned the image. */
  readonly pinnedElsewhere: boolean;
}

function indexed(image: PinInventoryImage): IndexedImage {
  const owned = new Set(image.ownedNames);
  return {
    id: image.id,
    names: image.names,
    has: new Set(image.names),
    pinned: new Set(image.pinnedNames),
    owned,
    pinnedElsewhere: image.pinnedNames.some((name) => !owned.has(name)),
  };
}

/**
 * Decides in set order: the first entries that fit the budget are pinned; an image shared by
 * several entries is charged once; an entry that does not fit is skipped and later, smaller
 * ones may still fit. An image of unknown size never fits a finite budget.
 *
 * `images` must list every name an image is recorded under, with `pinnedNames` and
 * `ownedNames` among them.
 */
export function planPins(
  entries: readonly PinEntry[],
  images: readonly PinInventoryImage[],
  budgetBytes: number,
): PinPlan {
  if (!(budgetBytes >= 0))
    throw new RangeError(`pin budget must be a number of bytes ≥ 0, got ${budgetBytes}`);
  const all = images.map(indexed);
  const byId = new Map(all.map((image) => [image.id, image]));
  const decided = new Map<string, ImageDecision>();
  const wanted = new Set<string>();
  let pinnedBytes = 0;

  for (const entry of entries) {
    const image = entry.imageId === undefined ? undefined : byId.get(entry.imageId);
    if (image === undefined || !entry.pin) continue;
    let decision = decided.get(image.id);
    if (decision === undefined) {
      const size = entry.size ?? Number.POSITIVE_INFINITY;
      if (image.pinnedElsewhere) {
        decision = { reason: "pinned-elsewhere", pinned: true };
      } else if (pinnedBytes + size <= budgetBytes) {
        pinnedBytes += size;
        decision = { reason: "pinned", pinned: true };
      } else {
        decision = { reason: "budget", pinned: false };
      }
      decided.set(image.id, decision);
    }
    // Names of a pinned-elsewhere image stay wanted, so pins prepull already holds there stay.
    if (decision.pinned) for (const name of entry.names) if (image.has.has(name)) wanted.add(name);
  }

  const statuses = entries.map((entry): EntryPin => {
    const image = entry.imageId === undefined ? undefined : byId.get(entry.imageId);
    if (image === undefined) return { image: entry.image, pinned: false, reason: "absent" };
    const decision = decided.get(image.id);
    if (entry.pin && decision !== undefined) return { image: entry.image, ...decision };
    // Opted out: the image may still be pinned, by someone else or for another entry sharing it.
    if (image.pinnedElsewhere) return { image: entry.image, pinned: true, reason: "pinned-elsewhere" };
    return { image: entry.image, pinned: decision?.pinned ?? false, reason: "opted-out" };
  });

  const pin: string[] = [];
  const unpin: string[] = [];
  for (const image of all) {
    const elsewhere = decided.get(image.id)?.reason === "pinned-elsewhere";
    for (const name of image.names) {
      const labelled = image.pinned.has(name);
      const owned = image.owned.has(name);
      if (!wanted.has(name)) {
        if (owned) unpin.push(name);
      } else if (!labelled && !elsewhere) {
        // Not pinned yet, or prepull's mark lost its pin: (re)pin. A name someone else pinned
        // is never taken over.
        pin.push(name);
      }
    }
  }
  return { pin, unpin, entries: statuses, pinnedBytes };
}
