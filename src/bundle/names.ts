import { effectiveTag, formatReference, type ImageReference } from "../reference/index.ts";

/**
 * The name an entry is stored under in a bundle: the full name pods' images resolve to, with the
 * tag kubelet looks up (its default included): `docker.io/library/busybox:1.36`; by digest when
 * the entry has no tag (`docker.io/library/busybox@sha256:…`).
 */
export function bundleName(reference: ImageReference, digest: string): string {
  const tag = effectiveTag(reference);
  return tag === undefined
    ? formatReference({ ...reference, tag: undefined, digest })
    : formatReference({ ...reference, tag, digest: undefined });
}
