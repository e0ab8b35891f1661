import type { CallOptions } from "../warm/index.ts";
import type { ContainerdApi, IngestStatus } from "./types.ts";

/**
 * Bytes of a pull so far, from containerd's content store. containerd copies a download into
 * its ingest in 1 MiB reads, so offsets move in steps of 1 MiB, not smoothly.
 */
export interface PullProgress {
  readonly bytesDone: number;
  /** 0 when no size is known yet. */
  readonly bytesTotal: number;
  /** Blobs being written right now. */
  readonly activeBlobs: number;
}

/** A blob a pull needs, as the image's manifest describes it. */
export interface BlobRef {
  readonly digest: string;
  readonly size: number;
}

/** More blobs than any image has; keeps one progress read bounded. */
const MAX_BLOBS = 512;

/** containerd keys an ingest `<kind>-<digest>` (or `<name>@<digest>`): the digest ends it. */
function ingestOf(ingests: readonly IngestStatus[], digest: string): IngestStatus | undefined {
  return ingests.find((ingest) => ingest.ref.endsWith(digest));
}

/** Sums the ingests, or only those of `digests` when given. */
export function summariseIngests(
  ingests: readonly IngestStatus[],
  digests?: readonly string[],
): PullProgress {
  const chosen =
    digests === undefined
      ? ingests
      : ingests.filter((ingest) => digests.some((digest) => ingest.ref.endsWith(digest)));
  return {
    bytesDone: chosen.reduce((sum, ingest) => sum + ingest.offset, 0),
    bytesTotal: chosen.reduce((sum, ingest) => sum + ingest.total, 0),
    activeBlobs: chosen.length,
  };
}

/** Every download in progress in the namespace, e.g. all pulls of the node's kubelet and agent. */
export async function readIngestProgress(
  api: ContainerdApi,
  digests?: readonly string[],
  options?: CallOptions,
): Promise<PullProgress> {
  return summariseIngests(await api.listIngests(options), digests);
}

/**
 * Progress of one image's pull when its blobs are known: a blob being written counts its
 * offset, a stored one its whole size. Finished blobs leave the ingest list, so the ingests
 * alone would undercount.
 */
export async function readBlobProgress(
  api: ContainerdApi,
  blobs: readonly BlobRef[],
  options?: CallOptions,
): Promise<PullProgress> {
  if (blobs.length > MAX_BLOBS)
    throw new RangeError(`an image of ${blobs.length} blobs is over ${MAX_BLOBS}`);
  const ingests = await api.listIngests(options);
  let bytesDone = 0;
  let activeBlobs = 0;
  for (const blob of blobs) {
    const ingest = ingestOf(ingests, blob.digest);
    if (ingest !== undefined) {
      bytesDone += Math.min(ingest.offset, blob.size);
      activeBlobs += 1;
    } else if ((await api.contentSize(blob.digest, options)) !== undefined) {
      bytesDone += blob.size;
    }
  }
  return { bytesDone, bytesTotal: blobs.reduce((sum, blob) => sum + blob.size, 0), activeBlobs };
}
