import { setTimeout as sleep } from "node:timers/promises";
import { ClassifiedError, errorMessage, type FailureKind, isClassifiedError } from "../failure/index.ts";
import { kubeletImageString, repositoryName, type ImageReference } from "../reference/index.ts";
import { recordedDigest } from "./inventory.ts";
import type {
  ContentSource,
  ImageImporter,
  ImageNamer,
  ImageRuntime,
  PullAuth,
  RuntimeImage,
} from "./ports.ts";
import { digestName, effectiveTag, tagName, type EntryPlan, type WarmAction } from "./plan.ts";

/** Where a tag points in the registry now; the registry client in production. */
export type TagResolver = (reference: ImageReference, signal?: AbortSignal) => Promise<string>;

export interface WarmDependencies {
  readonly runtime: ImageRuntime;
  /** Absent when no registry can be asked: tags are then pulled and verified afterwards. */
  readonly resolveTag?: TagResolver;
  /** Credentials for the runtime's pull of this reference. */
  readonly authFor?: (reference: ImageReference) => PullAuth | undefined;
  readonly pullTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** Bundles to import locked entries from before any pull (`--bundles`, `warm --from`). */
  readonly importer?: ImageImporter;
  /** Never pull from a registry: what no bundle holds fails `not_found`. */
  readonly offline?: boolean;
  /**
   * Records a confirmed tag at the digest the node holds instead of pulling the tag again; absent
   * (CRI-O) or failing, the tag is pulled.
   */
  readonly namer?: ImageNamer;
}

/** `blocked`: the disk guard kept (or stopped) the pull; the error kind is `disk`. */
export type EntryOutcome = "present" | "pulled" | "drifted" | "failed" | "blocked";

export interface EntryResult {
  readonly image: string;
  readonly outcome: EntryOutcome;
  /** Intended digest, or the one the runtime recorded when none was intended. */
  readonly digest: string | undefined;
  readonly imageId: string | undefined;
  readonly size: number | undefined;
  readonly seconds: number;
  /** Every PullImage issued for this entry, in order. */
  readonly pulls: readonly string[];
  /** Set when the entry failed; `message` alone explains a drift. */
  readonly errorKind: FailureKind | undefined;
  readonly message: string | undefined;
  /** Where the registry's tag points now, when it differs from the intended digest. */
  readonly registryDigest: string | undefined;
  /** Where the content came from, when this work put it on the node. */
  readonly source: ContentSource | undefined;
}

/**
 * containerd's CRI learns of a record made through containerd's own API from its events, a moment
 * later: after a name was recorded so, a lookup that does not find it at the intended digest is
 * made again after each of these pauses (3.2 s in all) before the check fails.
 */
const NAMED_RECHECKS_MS: readonly number[] = [10, 20, 40, 80, 150, 300, 600, 1000, 1000];

class DriftError extends Error {
  readonly registryDigest: string;
  constructor(message: string, registryDigest: string) {
    super(message);
    this.registryDigest = registryDigest;
  }
}

function failureOf(error: unknown): { errorKind: FailureKind; message: string } {
  if (isClassifiedError(error)) return { errorKind: error.kind, message: error.message };
  return { errorKind: "runtime", message: errorMessage(error) };
}

/**
 * Carries out one entry's plan against the runtime and then checks the result the way kubelet
 * will: ImageStatus with the pod's own string must find the image, at the intended digest. Where
 * a name was recorded through the runtime's own API, the check looks again after each of
 * `recheckMs` until CRI reports it.
 */
export async function executeEntryPlan(
  plan: EntryPlan,
  deps: WarmDependencies,
  recheckMs: readonly number[] = NAMED_RECHECKS_MS,
): Promise<EntryResult> {
  const started = performance.now();
  const { target } = plan;
  const pulls: string[] = [];
  /** Names recorded without a pull (the namer), which CRI may report a moment later. */
  const named: string[] = [];
  const auth = deps.authFor?.(target.reference);
  const pull = async (image: string): Promise<void> => {
    pulls.push(image);
    await deps.runtime.pullImage(image, {
      timeoutMs: deps.pullTimeoutMs,
      ...(deps.signal ? { signal: deps.signal } : {}),
      ...(auth ? { auth } : {}),
    });
  };
  let source: ContentSource | undefined;
  const finish = (
    outcome: EntryOutcome,
    fields: Partial<
      Pick<EntryResult, "digest" | "imageId" | "size" | "errorKind" | "message" | "registryDigest">
    >,
  ): EntryResult => ({
    image: target.image,
    outcome,
    digest: fields.digest ?? target.digest,
    imageId: fields.imageId,
    size: fields.size,
    seconds: (performance.now() - started) / 1000,
    pulls,
    errorKind: fields.errorKind,
    message: fields.message,
    registryDigest: fields.registryDigest,
    source,
  });

  try {
    const imported = await importFromBundle(plan, deps);
    if (imported === true) {
      source = "bundle";
      // The import names the image through containerd's own API too.
      return finish("pulled", await verify(plan, deps, recheckMs));
    }
    if (deps.offline === true && plan.actions.length > 0) {
      throw new ClassifiedError("not_found", `${target.image}: ${offlineReason(plan, imported)}`);
    }
    const name = async (image: string, digest: string): Promise<boolean> => {
      if (!(await tagWithoutPull(image, digestName(target.reference, digest), deps))) return false;
      named.push(image);
      return true;
    };
    for (const action of plan.actions) await runAction(action, target.reference, deps, pull, name);
    const worked = pulls.length > 0 || named.length > 0;
    if (worked) source = "registry";
    const verified = await verify(plan, deps, named.length > 0 ? recheckMs : []);
    return finish(worked ? "pulled" : "present", verified);
  } catch (error) {
    if (error instanceof DriftError) {
      return finish("drifted", { registryDigest: error.registryDigest, message: error.message });
    }
    return finish("failed", failureOf(error));
  }
}

/** The names a pull of the entry records: `N@D`, and `N:T` when the entry has a tag. */
function recordedNames(target: EntryPlan["target"], digest: string): string[] {
  const tag = effectiveTag(target.reference);
  return [
    digestName(target.reference, digest),
    ...(tag === undefined ? [] : [tagName(target.reference, tag)]),
  ];
}

/**
 * Imports a locked entry that needs work from a bundle holding its digest: true when imported,
 * else why not (undefined when no bundle was asked). Its tag is recorded at the locked digest
 * without asking a registry: in an air gap the lock is the authority on where the tag points.
 */
async function importFromBundle(plan: EntryPlan, deps: WarmDependencies): Promise<true | string | undefined> {
  const { target } = plan;
  if (deps.importer === undefined || target.digest === undefined || plan.actions.length === 0)
    return undefined;
  const outcome = await deps.importer.importImage(
    { image: target.image, digest: target.digest, names: recordedNames(target, target.digest) },
    { timeoutMs: deps.pullTimeoutMs, ...(deps.signal ? { signal: deps.signal } : {}) },
  );
  return outcome.imported ? true : outcome.reason;
}

function offlineReason(plan: EntryPlan, importReason: string | undefined): string {
  const why =
    plan.target.digest === undefined
      ? "not locked (bundles are imported by digest)"
      : (importReason ?? "not on the node");
  return `${why}, and no registry is used (offline)`;
}

/**
 * Records `image` at the content `digestName` holds through the namer: true when done, false
 * when there is no namer or it failed (the caller pulls instead). A cancel is not swallowed.
 */
async function tagWithoutPull(image: string, digestName: string, deps: WarmDependencies): Promise<boolean> {
  if (deps.namer === undefined) return false;
  try {
    await deps.namer.tagImage(image, digestName, {
      timeoutMs: deps.pullTimeoutMs,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    return true;
  } catch {
    // The pull that follows records the tag all the same, and reports any trouble of its own.
    deps.signal?.throwIfAborted();
    return false;
  }
}

async function runAction(
  action: WarmAction,
  reference: ImageReference,
  deps: WarmDependencies,
  pull: (image: string) => Promise<void>,
  name: (image: string, digest: string) => Promise<boolean>,
): Promise<void> {
  switch (action.type) {
    case "pull-digest":
    case "pull-tag":
      await pull(action.image);
      return;
    case "sync-tag": {
      if (deps.resolveTag !== undefined) {
        // Ask about the tag alone: with a digest in the reference the registry would echo it back.
        const tagOnly = { ...reference, tag: effectiveTag(reference), digest: undefined };
        const current = await deps.resolveTag(tagOnly, deps.signal);
        if (current !== action.digest) throw drift(action.digest, current);
        // The digest is on the node (pulled just before, or found there): name the tag after it
        // instead of a second PullImage, which would resolve the tag again for content present.
        if (await name(action.image, action.digest)) return;
        await pull(action.image);
        return;
      }
      // No registry to ask: pull the tag and check what it recorded.
      await pull(action.image);
      const image = await deps.runtime.imageStatus(action.image);
      const recorded = image && recordedDigest(image, repositoryName(reference));
      if (recorded !== action.digest) throw drift(action.digest, recorded ?? "unknown");
      return;
    }
  }
}

function drift(intended: string, current: string): DriftError {
  return new DriftError(
    // Reports name the image already; the message says what happened and how to accept it.
    `the tag now points at ${current} in the registry, not the intended ${intended}; it was not pulled (accept the new digest with prepull lock --update IMAGESET IMAGE)`,
    current,
  );
}

async function verify(
  plan: EntryPlan,
  deps: WarmDependencies,
  recheckMs: readonly number[],
): Promise<{ digest: string | undefined; imageId: string; size: number }> {
  const { target } = plan;
  const lookup = kubeletImageString(target.image);
  const intended = target.digest === undefined ? undefined : digestName(target.reference, target.digest);
  /** ImageStatus, asked again after each of `recheckMs` until it finds the intended digest. */
  const status = async (name: string): Promise<RuntimeImage | undefined> => {
    let found = await deps.runtime.imageStatus(name);
    for (const pause of recheckMs) {
      if (found !== undefined && (intended === undefined || found.repoDigests.includes(intended))) break;
      await sleep(pause);
      deps.signal?.throwIfAborted();
      found = await deps.runtime.imageStatus(name);
    }
    return found;
  };
  const image = await status(lookup);
  if (image === undefined) {
    throw new ClassifiedError("runtime", `${lookup}: the runtime does not find the image after warming it`);
  }
  const repository = repositoryName(target.reference);
  if (target.digest !== undefined) {
    expectDigest(image, lookup, digestName(target.reference, target.digest));
    const tag = effectiveTag(target.reference);
    if (tag !== undefined && target.reference.digest !== undefined) {
      // `name:tag@digest`: kubelet's lookup ignores the tag, so check the tag separately.
      const tagged = await status(tagName(target.reference, tag));
      if (tagged === undefined) {
        throw new ClassifiedError(
          "runtime",
          `${tagName(target.reference, tag)} is not resolvable after warming`,
        );
      }
      expectDigest(tagged, tagName(target.reference, tag), digestName(target.reference, target.digest));
    }
  }
  return {
    digest: target.digest ?? recordedDigest(image, repository),
    imageId: image.id,
    size: image.size,
  };
}

function expectDigest(image: RuntimeImage, lookup: string, expected: string): void {
  if (image.repoDigests.includes(expected)) return;
  throw new ClassifiedError(
    "runtime",
    `${lookup} resolves to an image recorded as ${image.repoDigests.join(", ") || image.id}, not ${expected}`,
  );
}
