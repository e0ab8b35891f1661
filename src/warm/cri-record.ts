/**
 * The label containerd's CRI puts on every image record it makes. A name prepull records through
 * containerd's own API beside a pull (a confirmed tag, an imported bundle) carries it too, so CRI
 * treats the record as one of its own.
 */
export const CRI_IMAGE_LABELS: Readonly<Record<string, string>> = { "io.cri-containerd.image": "managed" };
