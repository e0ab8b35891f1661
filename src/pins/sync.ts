import type { CallOptions, RuntimeImage } from "../warm/index.ts";
import { asError, isClassifiedError } from "../failure/index.ts";
import { labelFilter, OWNER_LABEL, OWNER_VALUE, PIN_LABEL, PIN_VALUE, recordPin } from "./labels.ts";
import { planPins, type PinEntry, type PinInventoryImage, type PinPlan } from "./plan.ts";
import type { PinRecord, PinStore } from "./port.ts";

/**
 * The pin planner's inventory: CRI's images (one per image id, with every name) joined with the
 * containerd records that carry the pin label or prepull's mark. CRI names an image's id record
 * `sha256:<id>` nowhere, but containerd keeps one and CRI reads its pin too, so it is listed.
 * A labelled record CRI does not know becomes an image of its own, so a stale mark of prepull's
 * can still be removed.
 */
export async function readPinInventory<Stored extends PinRecord>(
  api: PinStore<Stored>,
  criImages: readonly RuntimeImage[],
  options?: CallOptions,
): Promise<PinInventoryImage[]> {
  const records = await api.listImages([labelFilter(PIN_LABEL), labelFilter(OWNER_LABEL)], options);
  const byName = new Map(records.map((record) => [record.name, record]));
  const known = new Set<string>();
  const inventory = criImages.map((image): PinInventoryImage => {
    const names = [...new Set([...image.repoTags, ...image.repoDigests, image.id])];
    for (const name of names) known.add(name);
    return inventoryImage(image.id, names, byName);
  });
  for (const record of records) {
    if (!known.has(record.name)) inventory.push(inventoryImage(record.name, [record.name], byName));
  }
  return inventory;
}

function inventoryImage(
  id: string,
  names: string[],
  byName: ReadonlyMap<string, PinRecord>,
): PinInventoryImage {
  const pinOf = (name: string): string => recordPin(byName.get(name)?.labels ?? {});
  return {
    id,
    names,
    pinnedNames: names.filter((name) => ["ours", "others"].includes(pinOf(name))),
    ownedNames: names.filter((name) => ["ours", "stale"].includes(pinOf(name))),
  };
}

export interface PinOutcome {
  readonly pinned: readonly string[];
  readonly unpinned: readonly string[];
  /** Names left alone because they changed since the inventory was read. */
  readonly skipped: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
  readonly failed: ReadonlyArray<{ readonly name: string; readonly error: Error }>;
}

/**
 * Applies a pin plan, re-reading each record first: a name pinned by someone else in the
 * meantime is never taken over, and a pin is removed only while it still carries prepull's mark.
 * One name's failure does not stop the others; a runtime that went away stops the rest.
 */
export async function applyPinPlan<Stored extends PinRecord>(
  api: PinStore<Stored>,
  plan: PinPlan,
  options?: CallOptions,
): Promise<PinOutcome> {
  const pinned: string[] = [];
  const unpinned: string[] = [];
  const skipped: Array<{ name: string; reason: string }> = [];
  const failed: Array<{ name: string; error: Error }> = [];
  const steps = [
    ...plan.unpin.map((name) => ({ name, pin: false })),
    ...plan.pin.map((name) => ({ name, pin: true })),
  ];
  for (const { name, pin } of steps) {
    try {
      const record = await api.getImage(name, options);
      const holder = record === undefined ? undefined : recordPin(record.labels);
      if (record === undefined) {
        skipped.push({ name, reason: "no image has this name any more" });
      } else if (pin && holder === "others") {
        skipped.push({ name, reason: "pinned by someone else" });
      } else if (pin && holder !== "ours") {
        await api.updateImageLabels(record, { [PIN_LABEL]: PIN_VALUE, [OWNER_LABEL]: OWNER_VALUE }, options);
        pinned.push(name);
      } else if (!pin && (holder === "ours" || holder === "stale")) {
        await api.updateImageLabels(record, { [PIN_LABEL]: "", [OWNER_LABEL]: "" }, options);
        unpinned.push(name);
      } else if (!pin) {
        skipped.push({ name, reason: "not pinned by prepull" });
      }
    } catch (error) {
      if (isClassifiedError(error) && (error.kind === "unavailable" || error.kind === "timeout")) throw error;
      failed.push({ name, error: asError(error) });
    }
  }
  return { pinned, unpinned, skipped, failed };
}

/**
 * One pin pass: read the inventory, plan, apply. `criImages` is the pass's ListImages answer.
 * The plan's entry statuses describe the node once the outcome's changes are made.
 */
export async function syncPins<Stored extends PinRecord>(
  api: PinStore<Stored>,
  criImages: readonly RuntimeImage[],
  entries: readonly PinEntry[],
  budgetBytes: number,
  options?: CallOptions,
): Promise<{ readonly plan: PinPlan; readonly outcome: PinOutcome }> {
  const plan = planPins(entries, await readPinInventory(api, criImages, options), budgetBytes);
  return { plan, outcome: await applyPinPlan(api, plan, options) };
}
