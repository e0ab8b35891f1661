import { ClassifiedError } from "../failure/index.ts";
import {
  isIndex,
  parseManifestDocument,
  sha256Digest,
  type ManifestDocument,
  type Platform,
} from "../registry/index.ts";
import type { LayoutDescriptor } from "./layout.ts";
import type { LayoutSource } from "./layout-source.ts";

/** A blob an image needs, as its parent names it. */
export interface BlobDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

/** Everything the node's platform needs of one image, from one bundle. */
export interface ImageClosure {
  /** The image's own descriptor: what its names point at. */
  readonly top: BlobDescriptor;
  /** Every blob to import, the top document first. */
  readonly blobs: readonly BlobDescriptor[];
  /** The config digest of the node's platform manifest: the image's id in CRI. */
  readonly configDigest: string | undefined;
}

const MAX_INDEX_DEPTH = 4;
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function matches(candidate: LayoutDescriptor["platform"], wanted: Platform): boolean {
  // As containerd's platform filter: children without a platform (artifact indexes) are walked too.
  if (candidate === undefined) return true;
  return (
    candidate.os === wanted.os &&
    candidate.architecture === wanted.architecture &&
    (wanted.variant === undefined || candidate.variant === undefined || candidate.variant === wanted.variant)
  );
}

/** A bundle lacks something the image needs: the entry is treated as not in the bundle. */
export class IncompleteImageError extends ClassifiedError {
  constructor(message: string) {
    super("not_found", message);
  }
}

async function documentAt(source: LayoutSource, digest: string): Promise<ManifestDocument> {
  if ((await source.blobSize(digest)) === undefined) {
    throw new IncompleteImageError(`${source.path} holds no blob ${digest}`);
  }
  const bytes = await source.readBlob(digest);
  if (sha256Digest(bytes) !== digest) {
    throw new ClassifiedError(
      "invalid",
      `${source.path}: blob ${digest} does not match its digest (it is ${sha256Digest(bytes)})`,
    );
  }
  return parseManifestDocument(bytes, `${source.path}: ${digest}`);
}

/**
 * The blobs `digest` needs on `platform`, read from the bundle and checked against their digests:
 * the index (if any), the platform's manifests and every config and layer they name, as
 * containerd's import walks them with a platform filter.
 */
export async function imageClosure(
  source: LayoutSource,
  digest: string,
  platform: Platform,
): Promise<ImageClosure> {
  const blobs = new Map<string, BlobDescriptor>();
  let configDigest: string | undefined;
  const walk = async (descriptor: BlobDescriptor, depth: number): Promise<void> => {
    const document = await documentAt(source, descriptor.digest);
    blobs.set(descriptor.digest, descriptor);
    if (isIndex(document)) {
      if (depth >= MAX_INDEX_DEPTH)
        throw new ClassifiedError(
          "invalid",
          `${source.path}: ${digest}: indexes nest deeper than ${MAX_INDEX_DEPTH}`,
        );
      const children = document.manifests.filter((child) => matches(child.platform, platform));
      if (children.length === 0) {
        throw new IncompleteImageError(
          `${digest} has no manifest for ${platform.os}/${platform.architecture}`,
        );
      }
      for (const child of children) await walk(child, depth + 1);
      return;
    }
    configDigest ??= document.config.digest;
    for (const blob of [document.config, ...document.layers]) {
      if ((await source.blobSize(blob.digest)) !== blob.size) {
        throw new IncompleteImageError(
          `${source.path} holds no blob ${blob.digest} of ${digest} (or not all of it)`,
        );
      }
      blobs.set(blob.digest, blob);
    }
  };
  const size = await source.blobSize(digest);
  if (size === undefined) throw new IncompleteImageError(`${source.path} holds no blob ${digest}`);
  const named = source.descriptors.find((descriptor) => descriptor.digest === digest);
  const document = await documentAt(source, digest);
  const mediaType = named?.mediaType ?? document.mediaType ?? (isIndex(document) ? OCI_INDEX : OCI_MANIFEST);
  const top = { mediaType, digest, size };
  await walk(top, 0);
  return { top, blobs: [...blobs.values()], configDigest };
}
