import { ClassifiedError } from "../failure/index.ts";
import {
  isIndex,
  MAX_INDEX_DEPTH,
  type FetchedManifest,
  type ImageIndex,
  type ImageManifest,
} from "../registry/index.ts";
import { describeChoice, formatPlatform, isChosen, type PlatformChoice } from "./platforms.ts";

/** What a layout stores and names: a blob's media type, digest and size. */
export interface BlobDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

/** A manifest or index to store as it was fetched (its bytes are its digest). */
export interface PlannedDocument {
  readonly descriptor: BlobDescriptor;
  readonly bytes: Buffer;
}

/** Everything one entry needs in a bundle, from its top-level manifest or index down. */
export interface EntryPlan {
  /** The entry's own manifest or index: what index.json names. */
  readonly top: BlobDescriptor;
  /** Manifests and indexes, the top one first; each once. */
  readonly documents: readonly PlannedDocument[];
  /** Configs and layers of the manifests taken; each once. */
  readonly blobs: readonly BlobDescriptor[];
  /** Platforms of the index children taken (`linux/amd64`); empty for a plain manifest. */
  readonly platforms: readonly string[];
}

/** Fetches a manifest or index by digest, verified; the registry client's `fetchManifest`. */
export type DocumentFetcher = (content: {
  readonly digest: string;
  readonly size?: number;
}) => Promise<Pick<FetchedManifest, "bytes" | "mediaType" | "document">>;

type IndexChild = ImageIndex["manifests"][number];

function describe(child: IndexChild): string {
  return child.platform ? formatPlatform(child.platform) : "(no platform)";
}

/**
 * The children of an index that go into a bundle: those of the chosen platforms, and always
 * those without a platform (artifact indexes). An index whose every child names another platform
 * gives nothing: the caller says so rather than write an image no node can run.
 */
export function chooseChildren(index: ImageIndex, choice: PlatformChoice): IndexChild[] {
  return index.manifests.filter((child) => isChosen(child.platform, choice));
}

/** A manifest's blobs: config, then layers, whatever their media types (artifacts' too). */
export function manifestBlobs(manifest: ImageManifest): BlobDescriptor[] {
  return [manifest.config, ...manifest.layers].map(({ mediaType, digest, size }) => ({
    mediaType,
    digest,
    size,
  }));
}

/**
 * Walks an entry from its top-level digest: an index is kept whole (its bytes unchanged, so its
 * digest stays) with the children `choice` takes, nested indexes to MAX_INDEX_DEPTH; a manifest
 * brings its config and layers. Failures do not name the entry: the caller does.
 */
export async function planEntry(
  digest: string,
  fetch: DocumentFetcher,
  choice: PlatformChoice,
): Promise<EntryPlan> {
  const documents = new Map<string, PlannedDocument>();
  const blobs = new Map<string, BlobDescriptor>();
  const platforms = new Set<string>();

  async function visit(descriptor: { digest: string; size?: number; mediaType?: string }, depth: number) {
    if (documents.has(descriptor.digest)) return;
    const fetched = await fetch(
      descriptor.size === undefined
        ? { digest: descriptor.digest }
        : { digest: descriptor.digest, size: descriptor.size },
    );
    documents.set(descriptor.digest, {
      descriptor: {
        mediaType: descriptor.mediaType ?? fetched.mediaType,
        digest: descriptor.digest,
        size: fetched.bytes.length,
      },
      bytes: fetched.bytes,
    });
    const { document } = fetched;
    if (!isIndex(document)) {
      for (const blob of manifestBlobs(document)) blobs.set(blob.digest, blob);
      return;
    }
    if (depth >= MAX_INDEX_DEPTH) {
      throw new ClassifiedError("invalid", `${digest}: indexes nest deeper than ${MAX_INDEX_DEPTH}`);
    }
    const chosen = chooseChildren(document, choice);
    if (chosen.length === 0) {
      const offered = [...new Set(document.manifests.map(describe))].join(", ") || "nothing";
      throw new ClassifiedError(
        "not_found",
        `no manifest for ${describeChoice(choice)} (the index has ${offered}); choose with --platform, or take every one with --all-platforms`,
      );
    }
    for (const child of chosen) {
      if (child.platform) platforms.add(formatPlatform(child.platform));
      await visit(child, depth + 1);
    }
  }

  await visit({ digest }, 0);
  const [top] = documents.values();
  if (top === undefined) throw new Error(`${digest}: nothing fetched`);
  return {
    top: top.descriptor,
    documents: [...documents.values()],
    blobs: [...blobs.values()],
    platforms: [...platforms],
  };
}
