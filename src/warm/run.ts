import PQueue from "p-queue";
import { ImageInventory } from "./inventory.ts";
import { executeEntryPlan, type EntryResult, type WarmDependencies } from "./execute.ts";
import { planWarm, type WarmTarget } from "./plan.ts";

export interface WarmOnceOptions extends WarmDependencies {
  readonly concurrency: number;
  /** Called as each entry finishes, for progress displays. */
  readonly onResult?: (result: EntryResult) => void;
}

/**
 * One pass over a set: one ListImages for the inventory, a plan per entry, then the pulls under
 * a concurrency limit. A failing entry never stops the others. Results come back in input order.
 */
export async function warmOnce(
  targets: readonly WarmTarget[],
  options: WarmOnceOptions,
): Promise<EntryResult[]> {
  const inventory = new ImageInventory(await options.runtime.listImages());
  const queue = new PQueue({ concurrency: options.concurrency });
  const plans = planWarm(targets, inventory);
  return Promise.all(
    plans.map((plan) =>
      queue.add(async () => {
        const result = await executeEntryPlan(plan, options);
        options.onResult?.(result);
        return result;
      }),
    ),
  );
}
