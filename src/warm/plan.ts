import { effectiveTag, repositoryName, type ImageReference } from "../reference/index.ts";
import { recordedDigest, type ImageInventory } from "./inventory.ts";

/** One image of the desired set, as pods write it, with the digest it should be at. */
export interface WarmTarget {
  readonly image: string;
  readonly reference: ImageReference;
  readonly digest: string | undefined;
}

/**
 * What one entry needs, from one inventory (the rules README.md states under "What it does"):
 * - `pull-digest`: `N@D` is absent;
 * - `sync-tag`: `N:T` does not resolve to D locally; ask the registry where T points before
 *   pulling it, so a moved tag is reported as drift instead of silently recorded;
 * - `pull-tag`: no intended digest is known; pull `N:T` and trust what the runtime records.
 */
export type WarmAction =
  | { readonly type: "pull-digest"; readonly image: string }
  | { readonly type: "sync-tag"; readonly image: string; readonly digest: string }
  | { readonly type: "pull-tag"; readonly image: string };

export interface EntryPlan {
  readonly target: WarmTarget;
  readonly actions: readonly WarmAction[];
  /** The digest the node holds under the entry's names, when it holds one. */
  readonly localDigest: string | undefined;
}

export function digestName(reference: ImageReference, digest: string): string {
  return `${repositoryName(reference)}@${digest}`;
}

export function tagName(reference: ImageReference, tag: string): string {
  return `${repositoryName(reference)}:${tag}`;
}

export { effectiveTag };

export function planEntry(target: WarmTarget, inventory: ImageInventory): EntryPlan {
  const { reference, digest } = target;
  const repository = repositoryName(reference);
  const tag = effectiveTag(reference);
  const actions: WarmAction[] = [];

  if (digest === undefined) {
    // Without a tag the reference carries its digest, so `digest` is set; this is the tag-only case.
    const tagged = tag === undefined ? undefined : inventory.find(tagName(reference, tag));
    if (tagged === undefined && tag !== undefined) {
      actions.push({ type: "pull-tag", image: tagName(reference, tag) });
    }
    return {
      target,
      actions,
      localDigest: tagged === undefined ? undefined : recordedDigest(tagged, repository),
    };
  }

  const byDigest = inventory.find(digestName(reference, digest));
  if (byDigest === undefined) actions.push({ type: "pull-digest", image: digestName(reference, digest) });
  if (tag !== undefined) {
    const tagged = inventory.find(tagName(reference, tag));
    const tagDigestOk = tagged !== undefined && tagged.repoDigests.includes(digestName(reference, digest));
    if (!tagDigestOk) actions.push({ type: "sync-tag", image: tagName(reference, tag), digest });
  }
  return { target, actions, localDigest: byDigest === undefined ? undefined : digest };
}

/** The plan downloads content: more than a tag sync of an image the node holds. */
export function needsContent(plan: EntryPlan): boolean {
  return plan.actions.some((action) => action.type !== "sync-tag");
}
