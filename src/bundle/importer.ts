import { randomUUID } from "node:crypto";
import { errorMessage, isClassifiedError } from "../failure/index.ts";
import type { Platform } from "../registry/index.ts";
import { CRI_IMAGE_LABELS, entryKey, type ImageImporter, type ImportOutcome } from "../warm/index.ts";
import type { BundleCatalog } from "./catalog.ts";
import { IncompleteImageError, imageClosure } from "./closure.ts";
import type { BlobDescriptor } from "./plan.ts";
import { importStream } from "./import-stream.ts";
import type { ImageStore } from "./ports.ts";

/** The record an import stores its archive's index under until the image's own names exist. */
const STAGING_PREFIX = "import.prepull.dev/staging";

export interface BundleImporterOptions {
  /** The bundles to look in now (read again each call, so a bundle added later is found). */
  readonly catalog: () => Promise<BundleCatalog>;
  readonly store: ImageStore;
  readonly platform: Platform;
  readonly timeoutMs: number;
  /** Set once the runtime turned out not to import (containerd 1.6): every call says why. */
  readonly onUnavailable?: (reason: string) => void;
  /** Bytes of the archive sent so far for an entry, and the blob bytes it carries in all. */
  readonly onProgress?: (image: string, bytes: number) => void;
}

/** Bytes of an import in flight: what the agent's status and `warm` show while an entry imports. */
export type ImportProgress = { readonly doneBytes: number; readonly totalBytes: number } | null;

export interface BundleImporter extends ImageImporter {
  /** The import under way for the entry of this key (warm's `entryKey`), or null. */
  progress(key: string): ImportProgress;
}

/**
 * Imports entries from bundles into containerd and names them as a pull would. Per entry: the
 * first bundle holding its digest, the blobs the node's platform needs (read and checked), the
 * ones containerd lacks streamed through its transfer service (unpacked), then the records a
 * CRI pull creates — `N@D`, `N:T` and the image id — pointed at the digest, and the staging record
 * removed. Only the digest the lock names is imported, whatever else the bundle holds.
 */
export function createBundleImporter(options: BundleImporterOptions): BundleImporter {
  let unavailable: string | undefined;
  // One record per import running now: bounded by the pull slots.
  const running = new Map<string, { doneBytes: number; totalBytes: number }>();

  async function missingBlobs(
    blobs: readonly BlobDescriptor[],
    signal?: AbortSignal,
  ): Promise<BlobDescriptor[]> {
    const stored = await Promise.all(
      blobs.map((blob) => options.store.contentSize(blob.digest, signal ? { signal } : {})),
    );
    return blobs.filter((blob, index) => stored[index] !== blob.size);
  }

  return {
    progress: (key) => running.get(key) ?? null,

    async importImage(request, callOptions = {}): Promise<ImportOutcome> {
      if (unavailable !== undefined) return { imported: false, reason: unavailable };
      const catalog = await options.catalog();
      const source = await catalog.find(request.digest);
      if (source === undefined) return { imported: false, reason: `no bundle holds ${request.digest}` };
      const { signal } = callOptions;
      let closure;
      try {
        closure = await imageClosure(source, request.digest, options.platform);
      } catch (error) {
        if (error instanceof IncompleteImageError) return { imported: false, reason: error.message };
        throw error;
      }
      const staging = `${STAGING_PREFIX}/${randomUUID()}:import`;
      const key = entryKey(request);
      let bytes = 0;
      const importCarrying = (carried: readonly BlobDescriptor[]): Promise<void> => {
        const totalBytes = carried.reduce((sum, blob) => sum + blob.size, 0);
        running.set(key, { doneBytes: 0, totalBytes });
        return options.store.importArchive(importStream(source, closure.top, carried), {
          name: staging,
          platform: options.platform,
          timeoutMs: callOptions.timeoutMs ?? options.timeoutMs,
          ...(signal ? { signal } : {}),
          onSent: (sent) => {
            bytes += sent;
            // The archive's headers and padding count too: never show more than the blobs.
            running.set(key, { doneBytes: Math.min(bytes, totalBytes), totalBytes });
            options.onProgress?.(request.image, bytes);
          },
        });
      };
      try {
        try {
          await importCarrying(await missingBlobs(closure.blobs, signal));
        } catch (error) {
          // Blobs an interrupted import left behind belong to no image: containerd's garbage
          // collector may take them between the look and the import. Then carry them all.
          if (!(isClassifiedError(error) && error.kind === "not_found") || signal?.aborted) throw error;
          await importCarrying(closure.blobs);
        }
        const target = { ...closure.top, annotations: {} };
        const names = [...request.names, ...(closure.configDigest ? [closure.configDigest] : [])];
        for (const name of names) await options.store.putImage({ name, target, labels: CRI_IMAGE_LABELS });
      } catch (error) {
        if (isClassifiedError(error) && error.name === "UnsupportedApiError") {
          unavailable = `bundles cannot be imported: ${errorMessage(error)}`;
          options.onUnavailable?.(unavailable);
          return { imported: false, reason: unavailable };
        }
        throw error;
      } finally {
        running.delete(key);
        // The names now hold the content; the staging record only held it during the import.
        await options.store.deleteImage(staging).catch(() => undefined);
      }
      return { imported: true, bundle: source.path, bytes };
    },
  };
}
