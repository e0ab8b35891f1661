import { ClassifiedError, isClassifiedError } from "../failure/index.ts";
import {
  isIndex,
  parseManifestDocument,
  sha256Digest,
  type ManifestDocument,
  type Platform,
} from "../registry/index.ts";
import type { LayoutSource } from "./layout-source.ts";
import { planEntry, type BlobDescriptor } from "./plan.ts";

/** Everything the node's platform needs of one image, from one bundle. */
export interface ImageClosure {
  /** The image's own descriptor: what its names point at. */
  readonly top: BlobDescriptor;
  /** Every blob to import: the documents, then configs and layers. */
  readonly blobs: readonly BlobDescriptor[];
  /** The config digest of the node's platform manifest: the image's id in CRI. */
  readonly configDigest: string | undefined;
}

/** A bundle lacks something the image needs: the entry is treated as not in the bundle. */
export class IncompleteImageError extends ClassifiedError {
  constructor(message: string) {
    super("not_found", message);
  }
}

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function mediaTypeOf(source: LayoutSource, digest: string, document: ManifestDocument): string {
  const named = source.descriptors.find((descriptor) => descriptor.digest === digest);
  return named?.mediaType ?? document.mediaType ?? (isIndex(document) ? OCI_INDEX : OCI_MANIFEST);
}

/**
 * The blobs `digest` needs on `platform`, walked as `prepull bundle` walks a registry (the same
 * plan) but read from the bundle, each document checked against its digest: the index (if any),
 * the platform's manifests, and every config and layer they name — what containerd's import walks
 * with a platform filter. Layers are checked as they stream into the runtime.
 */
export async function imageClosure(
  source: LayoutSource,
  digest: string,
  platform: Platform,
): Promise<ImageClosure> {
  let configDigest: string | undefined;
  const fetchDocument = async ({ digest: wanted }: { digest: string }) => {
    if ((await source.blobSize(wanted)) === undefined) {
      throw new IncompleteImageError(`${source.path} holds no blob ${wanted}`);
    }
    const bytes = await source.readBlob(wanted);
    const actual = sha256Digest(bytes);
    if (actual !== wanted) {
      throw new ClassifiedError(
        "invalid",
        `${source.path}: blob ${wanted} does not match its digest (it is ${actual})`,
      );
    }
    const document = parseManifestDocument(bytes, `${source.path}: ${wanted}`);
    if (!isIndex(document)) configDigest ??= document.config.digest;
    return { bytes, document, mediaType: mediaTypeOf(source, wanted, document) };
  };
  let plan;
  try {
    plan = await planEntry(digest, fetchDocument, { all: false, platforms: [platform] });
  } catch (error) {
    // No manifest for the node's platform: the bundle does not hold this image for this node.
    if (isClassifiedError(error) && error.kind === "not_found") throw new IncompleteImageError(error.message);
    throw error;
  }
  for (const blob of plan.blobs) {
    if ((await source.blobSize(blob.digest)) !== blob.size) {
      throw new IncompleteImageError(
        `${source.path} holds no blob ${blob.digest} of ${digest} (or not all of it)`,
      );
    }
  }
  return {
    top: plan.top,
    blobs: [...plan.documents.map((document) => document.descriptor), ...plan.blobs],
    configDigest,
  };
}
