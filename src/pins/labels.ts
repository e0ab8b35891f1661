/**
 * The labels a pin is made of. containerd's CRI plugin (1.7 and later) reports an image as
 * pinned when any of its records (one per name: `repo:tag`, `repo@digest` and the `sha256:<id>`
 * record) carries PIN_LABEL=PIN_VALUE; kubelet's image GC then skips the image. OWNER_LABEL marks
 * a pin prepull set, so prepull removes only its own pins and never one set by hand or by
 * containerd's `pinned_images` configuration.
 */
export const PIN_LABEL = "io.cri-containerd.pinned";
export const PIN_VALUE = "pinned";
export const OWNER_LABEL = "prepull.dev/pinned";
export const OWNER_VALUE = "true";

/** Who holds the pin on one image record. */
export type RecordPin =
  /** Pinned, and the pin is prepull's. */
  | "ours"
  /** Pinned by someone else: never touched. */
  | "others"
  /** prepull's mark without the pin (someone removed the pin): not pinned. */
  | "stale"
  | "none";

export function recordPin(labels: Readonly<Record<string, string>>): RecordPin {
  const pinned = labels[PIN_LABEL] === PIN_VALUE;
  const ours = labels[OWNER_LABEL] === OWNER_VALUE;
  if (pinned) return ours ? "ours" : "others";
  return ours ? "stale" : "none";
}

/**
 * A containerd filter selecting records that carry `key` (with `value` when given). Label keys
 * hold dots and slashes, which the filter grammar accepts only in a quoted field.
 */
export function labelFilter(key: string, value?: string): string {
  const field = `labels.${JSON.stringify(key)}`;
  return value === undefined ? field : `${field}==${JSON.stringify(value)}`;
}
