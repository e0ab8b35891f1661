/**
 * How prepull pins: the pure planner (plan.ts), the port it needs from the runtime (port.ts) and
 * the labels a pin is made of, the pass that reads and applies a plan (sync.ts), the agent's
 * keeper that runs those passes within a budget, and CRI-O's drop-in for the same names.
 */
export { planPins, type PinEntry, type PinPlan, type PinReason } from "./plan.ts";
export type { PinStore } from "./port.ts";
export { labelFilter, OWNER_LABEL, OWNER_VALUE, PIN_LABEL, PIN_VALUE } from "./labels.ts";
export { applyPinPlan, readPinInventory, syncPins } from "./sync.ts";
export { PinKeeper, type EntryPinView } from "./keeper.ts";
export { optedOutOf, pinEntryOf } from "./entries.ts";
export { crioPinnedImages, crioPinsDropIn } from "./crio.ts";
