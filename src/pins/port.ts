import type { CallOptions } from "../warm/index.ts";

/**
 * What pinning needs from the runtime beyond CRI. pins declares it; containerd's own API
 * implements it (src/containerd), and tests use its in-memory twin. CRI's ListImages supplies
 * the rest: every name and the size of each image.
 */

/** One image record of the runtime: a name and its labels (containerd keeps one per name). */
export interface PinRecord {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Records by name and by label, and label updates; `Stored` is the adapter's own record. */
export interface PinStore<Stored extends PinRecord = PinRecord> {
  /** `undefined` when no record has that name. */
  getImage(name: string, options?: CallOptions): Promise<Stored | undefined>;
  /** Records matching any of `filters` (containerd filter syntax, see labelFilter); all when empty. */
  listImages(filters: readonly string[], options?: CallOptions): Promise<Stored[]>;
  /**
   * Sets the labels named in `labels` on `record`, leaving its other labels alone; an empty value
   * removes the label. Fails with `not_found` when the name is gone.
   */
  updateImageLabels(
    record: Stored,
    labels: Readonly<Record<string, string>>,
    options?: CallOptions,
  ): Promise<Stored>;
}

/** Whether the runtime can pin, and why not when it cannot. */
export type PinSupport =
  { readonly available: true } | { readonly available: false; readonly reason: string };

/**
 * Asks the runtime whether it pins; `criRuntimeName` is CRI's `runtime_name`. `version` is the
 * runtime's own version once it answered.
 */
export type PinProbe = (
  criRuntimeName: string,
) => Promise<{ readonly version: string | undefined; readonly pinning: PinSupport }>;
