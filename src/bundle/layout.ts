import { z } from "zod";

/**
 * The OCI image layout a bundle is (image-spec image-layout.md), as `ctr images import|export`,
 * skopeo's `oci:`/`oci-archive:` and `docker save` (Docker 25 and later) read and write it:
 * `oci-layout`, `index.json`, and every blob under `blobs/<algorithm>/<hex>`. The same contract is
 * read from a directory and from a tar file of one (`--archive`, `oci-archive:`).
 */
export const LAYOUT_FILE = "oci-layout";
export const INDEX_FILE = "index.json";
export const LAYOUT_VERSION = "1.0.0";
export const INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";
/** A Docker archive's own manifest list (`docker save`); older archives have nothing else. */
export const DOCKER_MANIFEST_FILE = "manifest.json";

/**
 * The name an entry is stored under. skopeo matches `oci-archive:PATH:NAME` against the OCI
 * annotation; containerd prefers its own, then falls back to the OCI one. A bundle writes the
 * full name pods use (`docker.io/library/busybox:1.36`, or `…@sha256:…` when the entry has no
 * tag) in both, so every reader finds the same name.
 */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";
export const CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name";

/** index.json and manifests are small; a bigger one is not a bundle (or an attack on the reader). */
export const LAYOUT_JSON_LIMIT = 16 * 1024 * 1024;

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, "not a sha256 digest");

export const layoutFileSchema = z.object({ imageLayoutVersion: z.literal(LAYOUT_VERSION) }).loose();

const platformSchema = z
  .object({ architecture: z.string(), os: z.string(), variant: z.string().optional() })
  .loose();

export const layoutDescriptorSchema = z
  .object({
    mediaType: z.string(),
    digest,
    size: z.number().int().nonnegative(),
    annotations: z.record(z.string(), z.string()).optional(),
    platform: platformSchema.optional(),
  })
  .loose();
export type LayoutDescriptor = z.infer<typeof layoutDescriptorSchema>;

export const layoutIndexSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    manifests: z.array(layoutDescriptorSchema),
  })
  .loose();
export type LayoutIndex = z.infer<typeof layoutIndexSchema>;

/** `docker save`'s manifest.json: what a Docker archive holds when it has no index.json. */
export const dockerManifestSchema = z.array(
  z
    .object({
      Config: z.string(),
      RepoTags: z.array(z.string()).nullable().optional(),
      Layers: z.array(z.string()),
    })
    .loose(),
);

/** Where a blob lives inside a layout: `blobs/sha256/<hex>`. */
export function blobPath(blobDigest: string): string {
  const [algorithm, hex] = blobDigest.split(":", 2);
  return `blobs/${algorithm}/${hex}`;
}

/** The name an index.json entry carries, containerd's annotation first (as containerd reads it). */
export function descriptorName(descriptor: LayoutDescriptor): string | undefined {
  const annotations = descriptor.annotations ?? {};
  return annotations[CONTAINERD_NAME_ANNOTATION] ?? annotations[REF_NAME_ANNOTATION];
}
