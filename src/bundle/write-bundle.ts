import PQueue from "p-queue";
import { ClassifiedError, isClassifiedError } from "../failure/index.ts";
import type { ImageReference } from "../reference/index.ts";
import {
  isIndex,
  parseManifestDocument,
  type ContentFetcher,
  type FetchedManifest,
  type ManifestDocument,
} from "../registry/index.ts";
import { CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION, type LayoutDescriptor } from "./layout.ts";
import { LayoutWriter } from "./layout-writer.ts";
import { bundleName } from "./names.ts";
import { planEntry, type BlobDescriptor, type EntryPlan } from "./plan.ts";
import type { PlatformChoice } from "./platforms.ts";

/** A locked entry: the image as pods write it, and the digest it is locked to. */
export interface BundleEntry {
  readonly image: string;
  readonly reference: ImageReference;
  readonly digest: string;
}

export interface BundleProgress {
  /** Walking manifests, fetching blobs, or (with --archive) writing the tar file. */
  readonly phase: "manifests" | "blobs" | "archive";
  readonly entriesDone: number;
  readonly entries: number;
  readonly blobsDone: number;
  readonly blobs: number;
  readonly bytesDone: number;
  readonly bytes: number;
}

export interface BundleOptions {
  readonly entries: readonly BundleEntry[];
  readonly fetcher: ContentFetcher;
  /** The layout directory to write (created, or resumed). */
  readonly dir: string;
  readonly choice: PlatformChoice;
  /** Manifest walks and blob downloads at once. */
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  /** Called whenever something is done, and as bytes arrive; the caller decides how often to show it. */
  readonly onProgress?: (progress: BundleProgress) => void;
}

export interface BundledEntry {
  readonly image: string;
  readonly name: string;
  readonly descriptor: LayoutDescriptor;
  readonly platforms: readonly string[];
  /** Every blob this entry needs, its manifests and indexes included. */
  readonly bytes: number;
}

export interface BundleResult {
  readonly entries: readonly BundledEntry[];
  /** Every blob index.json reaches: what an archive of the layout holds. */
  readonly digests: readonly string[];
  readonly bytes: number;
  /** Blobs fetched by this run, and their bytes; the rest were already there, verified. */
  readonly fetchedBlobs: number;
  readonly fetchedBytes: number;
  readonly platforms: readonly string[];
}

interface Needed {
  readonly blob: BlobDescriptor;
  /** The first entry that needs it: where it is fetched from, and who is named when it fails. */
  readonly entry: BundleEntry;
}

function shapeMediaType(document: ManifestDocument): string {
  return isIndex(document)
    ? "application/vnd.oci.image.index.v1+json"
    : "application/vnd.oci.image.manifest.v1+json";
}

/** A failure named by the entry it happened to, keeping its kind. */
function forEntry(entry: BundleEntry, error: unknown): unknown {
  if (!isClassifiedError(error)) return error;
  return new ClassifiedError(error.kind, `${entry.image}: ${error.message}`, { cause: error });
}

/** Runs `work` for each item, at most `concurrency` at once; the first failure stops the rest. */
async function eachBounded<T>(
  items: readonly T[],
  concurrency: number,
  signal: AbortSignal | undefined,
  work: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const stop = (): void => {
    controller.abort(signal?.reason);
  };
  signal?.addEventListener("abort", stop, { once: true });
  const queue = new PQueue({ concurrency });
  let first: { error: unknown } | undefined;
  try {
    await Promise.all(
      items.map((item) =>
        queue.add(async () => {
          if (controller.signal.aborted) return;
          try {
            await work(item, controller.signal);
          } catch (error) {
            first ??= { error };
            controller.abort(error);
          }
        }),
      ),
    );
  } finally {
    signal?.removeEventListener("abort", stop);
  }
  if (first !== undefined) throw first.error;
  if (signal?.aborted) throw signal.reason;
}

/**
 * Writes a bundle of locked entries into an OCI image layout at `dir`: each entry's manifest or
 * index fetched by its locked digest, the children of the chosen platforms, their configs and
 * layers, every blob verified by digest and size as it is written; then index.json naming exactly
 * these entries. Blobs already in the layout are hashed again and kept when right.
 */
export async function writeBundle(options: BundleOptions): Promise<BundleResult> {
  const { fetcher, entries, concurrency, signal } = options;
  const writer = await LayoutWriter.open(options.dir);
  const plans = new Map<BundleEntry, EntryPlan>();
  let entriesDone = 0;
  const report = (progress: Omit<BundleProgress, "entries" | "entriesDone">): void =>
    options.onProgress?.({ ...progress, entries: entries.length, entriesDone });
  report({ phase: "manifests", blobsDone: 0, blobs: 0, bytesDone: 0, bytes: 0 });

  // Manifests and indexes: read back from the layout when a previous run stored them (verified),
  // else fetched by digest and stored at once.
  const documents = new Set<string>();
  let fetchedBlobs = 0;
  let fetchedBytes = 0;
  async function documentFor(
    entry: BundleEntry,
    content: { digest: string; size?: number },
    stop: AbortSignal,
  ): Promise<Pick<FetchedManifest, "bytes" | "mediaType" | "document">> {
    const stored = await writer.readSmall(content);
    if (stored !== undefined) {
      documents.add(content.digest);
      const document = parseManifestDocument(stored, `${options.dir}: ${content.digest}`);
      return { bytes: stored, document, mediaType: document.mediaType ?? shapeMediaType(document) };
    }
    const fetched = await fetcher.fetchManifest(entry.reference, content, { signal: stop });
    if (!documents.has(content.digest)) {
      documents.add(content.digest);
      await writer.putBytes(
        { mediaType: fetched.mediaType, digest: content.digest, size: fetched.size },
        fetched.bytes,
      );
      fetchedBlobs += 1;
      fetchedBytes += fetched.size;
    }
    return fetched;
  }
  await eachBounded(entries, concurrency, signal, async (entry, stop) => {
    try {
      const plan = await planEntry(
        entry.digest,
        (content) => documentFor(entry, content, stop),
        options.choice,
      );
      plans.set(entry, plan);
      entriesDone += 1;
      report({ phase: "manifests", blobsDone: 0, blobs: 0, bytesDone: 0, bytes: 0 });
    } catch (error) {
      throw forEntry(entry, error);
    }
  });

  // Every blob once, whichever entries share it; manifests and indexes are already written.
  const needed = new Map<string, Needed>();
  const sizes = new Map<string, number>();
  const ordered = entries.flatMap((entry) => {
    const plan = plans.get(entry);
    return plan === undefined ? [] : [{ entry, plan }];
  });
  for (const { entry, plan } of ordered) {
    for (const document of plan.documents) sizes.set(document.descriptor.digest, document.descriptor.size);
    for (const blob of plan.blobs) {
      sizes.set(blob.digest, blob.size);
      if (!documents.has(blob.digest) && !needed.has(blob.digest)) needed.set(blob.digest, { blob, entry });
    }
  }
  const bytes = [...sizes.values()].reduce((sum, size) => sum + size, 0);
  let blobsDone = documents.size;
  let bytesDone = [...documents].reduce((sum, digest) => sum + (sizes.get(digest) ?? 0), 0);
  const progress = (): void => {
    report({ phase: "blobs", blobsDone, blobs: sizes.size, bytesDone, bytes });
  };
  progress();

  await eachBounded([...needed.values()], concurrency, signal, async ({ blob, entry }, stop) => {
    try {
      if (!(await writer.has(blob))) {
        let received = 0;
        await writer
          .putStream(blob, (sink) =>
            fetcher.fetchBlob(entry.reference, blob, sink, {
              signal: stop,
              onBytes: (count) => {
                received += count;
                bytesDone += count;
                progress();
              },
            }),
          )
          .catch((error: unknown) => {
            bytesDone -= received;
            throw error;
          });
        fetchedBlobs += 1;
        fetchedBytes += blob.size;
      } else {
        bytesDone += blob.size;
      }
      blobsDone += 1;
      progress();
    } catch (error) {
      throw forEntry(entry, error);
    }
  });

  const bundled = new Map<string, BundledEntry>();
  for (const { entry, plan } of ordered) {
    const name = bundleName(entry.reference, entry.digest);
    if (bundled.has(name)) continue;
    const own = new Set([...plan.documents.map((d) => d.descriptor), ...plan.blobs].map((b) => b.digest));
    bundled.set(name, {
      image: entry.image,
      name,
      platforms: plan.platforms,
      bytes: [...own].reduce((sum, digest) => sum + (sizes.get(digest) ?? 0), 0),
      descriptor: {
        ...plan.top,
        annotations: { [REF_NAME_ANNOTATION]: name, [CONTAINERD_NAME_ANNOTATION]: name },
      },
    });
  }
  await writer.writeIndex([...bundled.values()].map((entry) => entry.descriptor));
  return {
    entries: [...bundled.values()],
    digests: [...sizes.keys()],
    bytes,
    fetchedBlobs,
    fetchedBytes,
    platforms: [...new Set(ordered.flatMap(({ plan }) => plan.platforms))].sort(),
  };
}
