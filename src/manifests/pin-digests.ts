import PQueue from "p-queue";
import { errorMessage, isClassifiedError, type FailureKind } from "../failure/index.ts";
import { withDefaultTag, type ImageReference } from "../reference/index.ts";
import { pinManifest, type PinResult } from "./pin.ts";
import type { ManifestSource, ScannedImage } from "./scan.ts";
import { WarmedImages, type WarmedEntry } from "./warmed.ts";

/** The digest to pin a pod's image at, given the image as written and as parsed; none when unknown. */
export type DigestLookup = (image: string, reference: ImageReference) => string | undefined;

/** An image whose tag could not be resolved; `kind` is absent when the error was not classified. */
export interface DigestFailure {
  readonly image: string;
  readonly kind: FailureKind | undefined;
  readonly message: string;
}

/** Tags resolved at once when pinning against the registry. */
const RESOLVE_CONCURRENCY = 16;

/**
 * Digests from a locked ImageSet's entries: by the image's exact string, else by the tag the
 * runtime resolves (`nginx` finds the digest of `docker.io/library/nginx:latest`).
 */
export function digestsFromEntries(
  entries: ReadonlyArray<WarmedEntry & { readonly image: string }>,
): DigestLookup {
  const exact = new Map(entries.flatMap((e) => (e.digest === undefined ? [] : [[e.image, e.digest]])));
  const byTag = new WarmedImages(entries);
  return (image, reference) => exact.get(image) ?? byTag.digestOfTag(reference);
}

/**
 * Digests from the registry: where the tag of every image without a digest points now (kubelet's
 * `latest` when none is written). An image that does not resolve is a failure, in the order they
 * came, and stays unpinned.
 */
export async function resolveImageDigests(
  images: readonly ScannedImage[],
  resolve: (reference: ImageReference) => Promise<string>,
): Promise<{ digestOf: DigestLookup; failures: DigestFailure[] }> {
  const unpinned = new Map(
    images
      .filter((c) => c.reference !== undefined && c.reference.digest === undefined)
      .map((c) => [c.image, c.reference]),
  );
  const digests = new Map<string, string>();
  const failures: DigestFailure[] = [];
  const queue = new PQueue({ concurrency: RESOLVE_CONCURRENCY });
  await Promise.all(
    [...unpinned].map(([image, reference]) =>
      queue.add(async () => {
        if (reference === undefined) return;
        try {
          digests.set(image, await resolve(withDefaultTag(reference)));
        } catch (error) {
          failures.push({
            image,
            kind: isClassifiedError(error) ? error.kind : undefined,
            message: errorMessage(error),
          });
        }
      }),
    ),
  );
  return { digestOf: (image) => digests.get(image), failures };
}

/** Every source with its images pinned at the digests `digestOf` knows, in the sources' order. */
export function pinSources(
  sources: readonly ManifestSource[],
  images: readonly ScannedImage[],
  digestOf: DigestLookup,
): Array<{ readonly source: ManifestSource; readonly result: PinResult }> {
  const references = new Map(images.map((c) => [c.image, c.reference]));
  const lookup = (image: string): string | undefined => {
    const reference = references.get(image);
    return reference === undefined ? undefined : digestOf(image, reference);
  };
  return sources.map((source) => ({ source, result: pinManifest(source.text, lookup) }));
}
