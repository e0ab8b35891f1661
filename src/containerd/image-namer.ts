import { ClassifiedError } from "../failure/index.ts";
import { CRI_IMAGE_LABELS, type CallOptions, type ImageNamer } from "../warm/index.ts";
import { UnsupportedApiError, type ImageRecord } from "./types.ts";

/** What naming needs of containerd's images service. */
export interface ImageRecordStore {
  getImage(name: string, options?: CallOptions): Promise<ImageRecord | undefined>;
  /** Creates the record, or points an existing one at `target` and sets `labels` (others stay). */
  putImage(record: ImageRecord, options?: CallOptions): Promise<void>;
}

/**
 * warm's `ImageNamer` over containerd's images service: `N:T` is pointed at the target of the
 * `N@D` record, as CRI's pull of `N:T` would point it (createOrUpdateImageReference) — without
 * asking the registry again or running a second pull. CRI learns of the record from containerd's
 * events. On a socket that does not serve containerd's API (CRI-O) the first call says so and
 * every later one fails at once, so warm pulls the tag instead at no extra cost.
 */
export function createImageNamer(store: ImageRecordStore): ImageNamer {
  let unsupported: UnsupportedApiError | undefined;
  return {
    async tagImage(name: string, digestName: string, options: CallOptions = {}): Promise<void> {
      if (unsupported !== undefined) throw unsupported;
      try {
        const source = await store.getImage(digestName, options);
        if (source === undefined) {
          throw new ClassifiedError("not_found", `${digestName}: no image record to name ${name} after`);
        }
        await store.putImage({ name, target: source.target, labels: CRI_IMAGE_LABELS }, options);
      } catch (error) {
        if (error instanceof UnsupportedApiError) unsupported = error;
        throw error;
      }
    },
  };
}
