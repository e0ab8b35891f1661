import PQueue from "p-queue";
import type { EntryResult } from "./execute.ts";
import { startWarmPass, type PassDependencies } from "./pass.ts";
import type { WarmTarget } from "./plan.ts";

export interface WarmOnceOptions extends Omit<PassDependencies, "slots"> {
  readonly concurrency: number;
  /** Called as each entry finishes, for progress displays. */
  readonly onResult?: (result: EntryResult) => void;
  /** Called when an entry gets a pull slot. */
  readonly onPulling?: (target: WarmTarget) => void;
}

/**
 * One pass over a whole set, for one-shot callers (`prepull warm`): every entry may pull, and the
 * results come back in input order once the last pull has ended. A failing entry never stops the
 * others.
 */
export async function warmOnce(
  targets: readonly WarmTarget[],
  options: WarmOnceOptions,
): Promise<EntryResult[]> {
  const { concurrency, onResult, onPulling, ...deps } = options;
  const pass = await startWarmPass(
    targets.map((target) => ({ target })),
    { ...deps, slots: new PQueue({ concurrency }) },
    { ...(onResult === undefined ? {} : { onResult }), ...(onPulling === undefined ? {} : { onPulling }) },
  );
  return pass.results;
}
