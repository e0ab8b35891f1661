import PQueue from "p-queue";
import { errorMessage, InputError, isClassifiedError, type FailureKind } from "../failure/index.ts";
import { effectiveTag, withDefaultTag, type ImageReference } from "../reference/index.ts";
import type { ImageSetEntry } from "./imageset.ts";
import { checkLock, lockImageSet, selectEntries, type LockChange, type LockCheck } from "./lock.ts";
import { mergeImageSets } from "./merge.ts";
import { parseImageSet } from "./parse.ts";

/** One ImageSet file as read: its name and its text. */
export interface SetFile {
  readonly file: string;
  readonly text: string;
}

/** What `prepull lock` is asked to do with the sets. */
export interface LockRequest {
  /** Ask about locked entries only, and write nothing. */
  readonly check?: boolean;
  /** Also move locked entries: all of them, or those `images` names. */
  readonly update?: boolean;
  readonly images?: readonly string[];
  /** The sets' path as given, named in messages. */
  readonly path: string;
}

/** Which entries of the sets a lock looks at. */
export interface LockPlan {
  /** Entries with no digest at all. */
  readonly unlocked: readonly ImageSetEntry[];
  /** Locked entries that carry a tag (kubelet's default included): what a check asks about. */
  readonly locked: readonly ImageSetEntry[];
  /** Locked entries an update moves. */
  readonly updating: readonly ImageSetEntry[];
  /** The entries whose tag the registry is asked for. */
  readonly asked: readonly ImageSetEntry[];
}

/** Where a tag points now, as the registry says: the digest. */
export type TagDigestResolver = (reference: ImageReference) => Promise<string>;

/** An entry whose tag could not be resolved. */
export interface LockFailure {
  readonly image: string;
  readonly kind: FailureKind;
  readonly message: string;
}

/** One digest written in a set file; `previous` is the one it replaced. */
export interface WrittenDigest extends LockChange {
  readonly file: string;
}

/** Locked entries `update` re-resolves: all of them, or those the images name. */
function entriesToUpdate(
  entries: readonly ImageSetEntry[],
  images: readonly string[],
  path: string,
): ImageSetEntry[] {
  const movable = (entry: ImageSetEntry): boolean =>
    entry.digest !== undefined && entry.reference.digest === undefined;
  if (images.length === 0) return entries.filter(movable);
  return images.flatMap((image) => {
    const selected = selectEntries(entries, [image], path);
    const named = entries.filter((entry) => selected(entry.image));
    const pinned = named.find((entry) => entry.reference.digest !== undefined);
    if (pinned !== undefined) {
      throw new InputError(
        `${image}: the digest is part of the image string pods use; change it there (prepull pin) and in the set`,
        { reference: image, source: pinned.sources[0] },
      );
    }
    return named.filter(movable);
  });
}

/**
 * Parses the sets and decides which entries a lock asks the registry about: the unlocked ones and
 * those to update, or, for a check, the locked ones. Bad files and images that name no entry are
 * input errors, before any registry is asked.
 */
export function planLock(files: readonly SetFile[], request: LockRequest): LockPlan {
  const desired = mergeImageSets(files.flatMap(({ file, text }) => parseImageSet(text, file)));
  const unlocked = desired.entries.filter((e) => e.digest === undefined);
  const locked = desired.entries.filter(
    (e) => e.digest !== undefined && effectiveTag(e.reference) !== undefined,
  );
  const updating =
    request.update === true ? entriesToUpdate(desired.entries, request.images ?? [], request.path) : [];
  const asked = request.check === true ? locked : [...unlocked, ...updating];
  return { unlocked, locked, updating, asked };
}

/**
 * Asks where each entry's tag (kubelet's default included) points now, `concurrency` at once;
 * the digest an entry is locked at is what the answer is checked against, never what is asked.
 * A failure is the entry's, classified (`network` when it is not), and the others go on.
 */
export async function resolveTags(
  entries: readonly ImageSetEntry[],
  resolve: TagDigestResolver,
  concurrency: number,
): Promise<{ resolved: Map<string, string>; failures: LockFailure[] }> {
  const resolved = new Map<string, string>();
  const failures: LockFailure[] = [];
  const queue = new PQueue({ concurrency });
  await Promise.all(
    entries.map((entry) =>
      queue.add(async () => {
        const reference = { ...withDefaultTag(entry.reference), digest: undefined };
        try {
          resolved.set(entry.image, await resolve(reference));
        } catch (error) {
          failures.push({
            image: entry.image,
            kind: isClassifiedError(error) ? error.kind : "network",
            message: errorMessage(error),
          });
        }
      }),
    ),
  );
  return { resolved, failures };
}

/** The check of a plan's entries; unlocked entries count unless `allowUnlocked`. */
export function checkLockPlan(
  plan: LockPlan,
  resolved: ReadonlyMap<string, string>,
  options: { allowUnlocked?: boolean } = {},
): LockCheck {
  return checkLock(
    options.allowUnlocked === true ? plan.locked : [...plan.locked, ...plan.unlocked],
    resolved,
  );
}

/**
 * Each set file with the digests written in (`edited` when any was): for the unlocked entries,
 * and over the old ones of the entries the plan updates. Only what was asked is in `resolved`, so
 * only that is written.
 */
export function lockSetFiles(
  files: readonly SetFile[],
  plan: LockPlan,
  resolved: ReadonlyMap<string, string>,
): { files: Array<SetFile & { readonly edited: boolean }>; written: WrittenDigest[] } {
  const toUpdate = new Set(plan.updating.map((entry) => entry.image));
  const written: WrittenDigest[] = [];
  const locked = files.map(({ file, text }) => {
    const result = lockImageSet(text, file, resolved, { update: (image) => toUpdate.has(image) });
    written.push(...result.changed.map((change) => ({ file, ...change })));
    return { file, text: result.text, edited: result.text !== text };
  });
  return { files: locked, written };
}
