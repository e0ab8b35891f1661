import { setTimeout as sleep } from "node:timers/promises";
import type { EntryResult } from "./execute.ts";
import type { ImageInventory } from "./inventory.ts";
import type { ImageRuntime } from "./ports.ts";
import { reasonOf } from "./reason.ts";

type Runtime = Pick<ImageRuntime, "imageStatus" | "removeImage">;

/**
 * A stopped pull is only stopped for prepull: the runtime learns of the cancel a moment later
 * and may still record the image (containerd does not check the cancel between unpacking the
 * last layer and creating the image record). Where nothing is found at once, look again after
 * these pauses (3.1 s in all) before calling the pull gone.
 */
const STOPPED_PULL_RECHECKS_MS: readonly number[] = [100, 200, 400, 800, 1600];

/**
 * The filesystem crossed the threshold during the pull. Whatever the pull left behind is removed
 * again when it is new to the node: a pull that ended between two readings, or one the runtime
 * finished recording as the cancel arrived (see `STOPPED_PULL_RECHECKS_MS`). A drift is reported
 * as it is (it says more).
 */
export async function undoOverfill(
  outcome: EntryResult,
  overfill: { readonly message: string; readonly stopped: boolean },
  inventory: ImageInventory,
  runtime: Runtime,
  recheckMs: readonly number[] = STOPPED_PULL_RECHECKS_MS,
): Promise<EntryResult> {
  if (outcome.outcome === "drifted") return outcome;
  const { message, stopped } = overfill;
  const lastPull = outcome.pulls.at(-1);
  let removed: boolean;
  try {
    removed = await removeIfNew(lastPull, inventory, runtime, stopped ? recheckMs : []);
  } catch (error) {
    return { ...outcome, ...blocked(`${message}; removing what the pull left failed: ${reasonOf(error)}`) };
  }
  if (stopped) {
    return {
      ...outcome,
      ...blocked(`${message}; the pull was stopped${removed ? " and its image removed" : ""}`),
    };
  }
  if (outcome.outcome === "failed") {
    return { ...outcome, ...blocked(`${message}; the pull failed: ${outcome.message ?? "unknown error"}`) };
  }
  return removed ? { ...outcome, ...blocked(`${message}; the image was removed again`) } : outcome;
}

/**
 * containerd 1.6 and 1.7 keep a record of an artifact they refused to unpack, under the names
 * pulled: the next pass (and kubelet's ImageStatus) would take it for present. What the refused
 * pulls left is removed again when it is new to the node, as after an overfill.
 */
export async function undoRefused(
  outcome: EntryResult,
  inventory: ImageInventory,
  runtime: Runtime,
): Promise<EntryResult> {
  try {
    for (const pulled of outcome.pulls) await removeIfNew(pulled, inventory, runtime, []);
    return outcome;
  } catch (error) {
    return {
      ...outcome,
      message: `${outcome.message ?? ""}; removing what the pull left failed: ${reasonOf(error)}`,
    };
  }
}

/**
 * Removes the image `name` names if its id is in no image of the inventory taken before the pull,
 * looking again after each of `recheckMs` while there is none. CRI RemoveImage removes every name
 * of an image id, so an id the node already had is kept.
 */
async function removeIfNew(
  name: string | undefined,
  inventory: ImageInventory,
  runtime: Runtime,
  recheckMs: readonly number[],
): Promise<boolean> {
  if (name === undefined) return false;
  let left = await runtime.imageStatus(name);
  for (const pause of recheckMs) {
    if (left !== undefined) break;
    await sleep(pause);
    left = await runtime.imageStatus(name);
  }
  if (left === undefined || inventory.images.some((image) => image.id === left.id)) return false;
  await runtime.removeImage(left.id);
  return true;
}

function blocked(message: string): Pick<EntryResult, "outcome" | "errorKind" | "message"> {
  return { outcome: "blocked", errorKind: "disk", message };
}
