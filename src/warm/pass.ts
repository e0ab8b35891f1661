import type PQueue from "p-queue";
import { isClassifiedError, type FailureKind } from "../failure/index.ts";
import type { ImageReference } from "../reference/index.ts";
import type { ImageSize } from "./disk-budget.ts";
import type { DiskAdmission, DiskGuard, DiskTicket } from "./disk-guard.ts";
import { executeEntryPlan, type EntryResult, type WarmDependencies } from "./execute.ts";
import { ImageInventory } from "./inventory.ts";
import {
  digestName,
  effectiveTag,
  needsContent,
  planEntry,
  tagName,
  type EntryPlan,
  type WarmTarget,
} from "./plan.ts";
import type { RuntimeImage } from "./ports.ts";
import { reasonOf } from "./reason.ts";
import { undoOverfill, undoRefused } from "./undo.ts";

/**
 * What a pull of a reference costs the image filesystem, as the registry tells it: the compressed
 * bytes the node's platform pulls and, where the registry lets them be read, what its layers
 * unpack to.
 */
export type SizeLookup = (reference: ImageReference, signal: AbortSignal) => Promise<ImageSize | undefined>;

export interface PassDependencies extends Omit<WarmDependencies, "signal"> {
  /** Pull slots shared by every pass that runs at once: the node's concurrency limit. */
  readonly slots: PQueue;
  readonly diskGuard?: DiskGuard;
  /** Sharpens the disk guard's prediction; without it a pull is judged on the disk's use alone. */
  readonly sizeOf?: SizeLookup;
}

export interface PassEntry {
  readonly target: WarmTarget;
  /** Cancels this entry's work: it left the set, or the process is stopping. */
  readonly signal?: AbortSignal;
  /** False while the entry backs off: it is checked against the inventory but not pulled. */
  readonly mayPull?: boolean;
}

export interface PassHooks {
  /**
   * The entry needs pulls and waits for a slot (its size is looked up meanwhile); `tagOnly` when
   * its image is on the node and only its tag is synced. A signal returned here cancels the
   * entry's work in place of the entry's own.
   */
  onQueued?(target: WarmTarget, tagOnly: boolean): AbortSignal | undefined;
  /** The entry got a pull slot. */
  onPulling?(target: WarmTarget): void;
  /** The entry's work ended; not called for cancelled entries. */
  onResult?(result: EntryResult, target: WarmTarget): void;
}

export interface StartedPass {
  /** Seconds the inventory and the plans took. */
  readonly seconds: number;
  /** The pass's ListImages answer, as it was before any pull of the pass. */
  readonly images: readonly RuntimeImage[];
  /** Present and worked-on entries, in input order; settles when the last pull ends. */
  readonly results: Promise<EntryResult[]>;
}

/**
 * A registry that hangs must not hold the entry up for long before it pulls (the pull then meets
 * the same registry under its own deadline): the lookup gets the smaller of this and that deadline.
 */
const SIZE_LOOKUP_TIMEOUT_MS = 10_000;

/**
 * One warm pass, the same for the agent and `prepull warm`: one ListImages for the inventory, a
 * plan per entry, and for each entry that needs content a size lookup (outside the pull slots),
 * a pull slot, the disk guard's admission, the pulls with the guard's watch, and the kubelet-style
 * verification. Resolves once the inventory is planned; `results` follows the pulls.
 */
export async function startWarmPass(
  entries: readonly PassEntry[],
  deps: PassDependencies,
  hooks: PassHooks = {},
): Promise<StartedPass> {
  const started = performance.now();
  const images = await deps.runtime.listImages();
  const inventory = new ImageInventory(images);
  const work: Promise<EntryResult>[] = [];
  for (const entry of entries) {
    const plan = planEntry(entry.target, inventory);
    if (plan.actions.length === 0) {
      const result = presentResult(plan, inventory);
      hooks.onResult?.(result, entry.target);
      work.push(Promise.resolve(result));
    } else if (entry.mayPull !== false) {
      const signal = hooks.onQueued?.(entry.target, !needsContent(plan)) ?? entry.signal;
      const done = warmEntry(plan, inventory, signal, deps, hooks)
        .catch((error: unknown) => unfinished(plan, "failed", "runtime", reasonOf(error)))
        .then((result) => {
          if (signal?.aborted !== true) hooks.onResult?.(result, entry.target);
          return result;
        });
      work.push(done);
    }
  }
  return { seconds: (performance.now() - started) / 1000, images, results: Promise.all(work) };
}

async function warmEntry(
  plan: EntryPlan,
  inventory: ImageInventory,
  signal: AbortSignal | undefined,
  deps: PassDependencies,
  hooks: PassHooks,
): Promise<EntryResult> {
  const guard = needsContent(plan) ? deps.diskGuard : undefined;
  const cancelled = (): boolean => signal?.aborted === true;
  // Every per-entry request happens inside a slot: a cold set of 10,000 entries must not start
  // 10,000 registry lookups at once (they queue in memory behind the registry's connections).
  const result = await deps.slots.add(async (): Promise<EntryResult> => {
    if (cancelled()) return unfinished(plan, "failed", "runtime", reasonOf(signal));
    hooks.onPulling?.(plan.target);
    let ticket: DiskTicket | undefined;
    if (guard !== undefined) {
      const lookupMs = Math.min(SIZE_LOOKUP_TIMEOUT_MS, deps.pullTimeoutMs);
      const size = await lookupSize(plan, signal, deps.sizeOf, lookupMs);
      if (cancelled()) return unfinished(plan, "failed", "runtime", reasonOf(signal));
      let admission: DiskAdmission;
      try {
        admission = await guard.admit(size ?? { compressed: undefined }, plan.target.image);
      } catch (error) {
        // The image filesystem could not be found or read (e.g. the runtime went away).
        const kind = isClassifiedError(error) ? error.kind : "runtime";
        return unfinished(plan, "failed", kind, `disk guard: ${reasonOf(error)}`);
      }
      if (!admission.ok) return unfinished(plan, "blocked", "disk", admission.message);
      ticket = admission.ticket;
    }
    const signals = [signal, ticket?.signal].filter((s): s is AbortSignal => s !== undefined);
    let outcome: EntryResult;
    try {
      outcome = await executeEntryPlan(plan, {
        ...deps,
        ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
      });
    } catch (error) {
      // The reservation must not outlive the pull, whatever happened to it.
      await ticket?.finish({ complete: false });
      throw error;
    }
    const stopped = ticket?.signal.aborted === true;
    // A pull that did not end with the image recorded may still be writing its layer.
    const complete = outcome.outcome !== "failed" && outcome.outcome !== "blocked";
    const overfilled = await ticket?.finish({ complete });
    if (overfilled === undefined || cancelled()) {
      return outcome.errorKind === "unsupported" ? undoRefused(outcome, inventory, deps.runtime) : outcome;
    }
    return undoOverfill(outcome, { message: overfilled, stopped }, inventory, deps.runtime);
  });
  return result;
}

async function lookupSize(
  plan: EntryPlan,
  signal: AbortSignal | undefined,
  sizeOf: SizeLookup | undefined,
  timeoutMs: number,
): Promise<ImageSize | undefined> {
  if (sizeOf === undefined) return undefined;
  const { target } = plan;
  const deadline = AbortSignal.timeout(timeoutMs);
  try {
    return await sizeOf(
      { ...target.reference, digest: target.digest ?? target.reference.digest },
      signal === undefined ? deadline : AbortSignal.any([signal, deadline]),
    );
  } catch {
    // The size only sharpens the guard; the pull itself reports registry trouble.
    return undefined;
  }
}

/** An entry whose pulls never started: cancelled, or kept back by the disk guard. */
function unfinished(
  plan: EntryPlan,
  outcome: "failed" | "blocked",
  errorKind: FailureKind,
  message: string,
): EntryResult {
  return {
    image: plan.target.image,
    outcome,
    digest: plan.target.digest,
    imageId: undefined,
    size: undefined,
    seconds: 0,
    pulls: [],
    errorKind,
    message,
    registryDigest: undefined,
    source: undefined,
  };
}

/** An entry the inventory already holds under its names: nothing is asked of the runtime. */
function presentResult(plan: EntryPlan, inventory: ImageInventory): EntryResult {
  const { reference, digest } = plan.target;
  const name =
    digest !== undefined
      ? digestName(reference, digest)
      : tagName(reference, effectiveTag(reference) ?? "latest");
  const image = inventory.find(name);
  return {
    image: plan.target.image,
    outcome: "present",
    digest: digest ?? plan.localDigest,
    imageId: image?.id,
    size: image?.size,
    seconds: 0,
    pulls: [],
    errorKind: undefined,
    message: undefined,
    registryDigest: undefined,
    source: undefined,
  };
}
