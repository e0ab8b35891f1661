import type { ImageSetEntry } from "../imageset/index.ts";
import { planEntry, type EntryPlan, type ImageInventory } from "../warm/index.ts";
import { judgeGate, type GateVerdict } from "./verdict.ts";

/** One entry of a set as this node holds it now. */
export interface CheckedEntry {
  readonly image: string;
  /** `present`, or what it lacks: `missing`, `drifted`, or both (`missing,drifted`). */
  readonly state: string;
  readonly digest: string | null;
  readonly localDigest: string | null;
}

export interface NodeCheck {
  readonly entries: readonly CheckedEntry[];
  /** Every entry is present. */
  readonly warm: boolean;
  /** What the readiness gate would say of the node as it is now (docs/readiness-gate.md). */
  readonly gate: GateVerdict;
}

/**
 * What one entry lacks on this node, in the words the agent, warm and wait use: `drifted` when its
 * tag does not resolve to the intended digest here.
 */
function stateOf(plan: EntryPlan): string {
  if (plan.actions.length === 0) return "present";
  return plan.actions
    .map((action) => (action.type === "sync-tag" ? "drifted" : "missing"))
    .filter((value, index, all) => all.indexOf(value) === index)
    .join(",");
}

/** How far the node is from a set, from one ListImages answer: nothing is pulled. */
export function checkNode(entries: readonly ImageSetEntry[], inventory: ImageInventory): NodeCheck {
  const plans = entries.map((entry) => planEntry(entry, inventory));
  const checked = plans.map((plan) => ({
    image: plan.target.image,
    state: stateOf(plan),
    digest: plan.target.digest ?? null,
    localDigest: plan.localDigest ?? null,
  }));
  const warm = plans.every((plan) => plan.actions.length === 0);
  const gate = judgeGate(
    plans.map((plan, index) => ({
      image: plan.target.image,
      state:
        plan.actions.length === 0 ? "present" : checked[index]?.state === "drifted" ? "drifted" : "pending",
      errorKind: null,
      gated: entries[index]?.gate !== false,
    })),
    true,
  );
  return { entries: checked, warm, gate };
}
