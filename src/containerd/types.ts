import type { CallOptions } from "../warm/index.ts";
import { ClassifiedError } from "../failure/index.ts";
import type { PinStore } from "../pins/index.ts";

/** The namespace containerd's CRI plugin keeps Kubernetes images in. */
export const CRI_NAMESPACE = "k8s.io";

/** The content an image record points at (containerd's `Descriptor`). */
export interface ImageTarget {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
}

/** One containerd image record: a name, its labels and the content it points at. */
export interface ImageRecord {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly target: ImageTarget;
}

/** One blob being written into the content store, e.g. a layer of a running pull. */
export interface IngestStatus {
  /** containerd's ingest key, e.g. `layer-sha256:…`; it ends with the blob's digest. */
  readonly ref: string;
  readonly offset: number;
  /** 0 while the size is not known yet. */
  readonly total: number;
}

export interface ContainerdVersion {
  readonly version: string;
  readonly revision: string;
}

/**
 * containerd's own API on the runtime socket: only what CRI cannot do. Its image records are
 * pins' PinStore port (records by name and label, label updates that leave the target alone).
 */
export interface ContainerdApi extends PinStore<ImageRecord> {
  readonly endpoint: string;
  version(options?: CallOptions): Promise<ContainerdVersion>;
  /** The size of a stored blob, `undefined` when it is not stored (yet). */
  contentSize(digest: string, options?: CallOptions): Promise<number | undefined>;
  listIngests(options?: CallOptions): Promise<IngestStatus[]>;
  close(): void;
}

/** The socket answers, but not with containerd's API (CRI-O, cri-dockerd, or a CRI-only proxy). */
export class UnsupportedApiError extends ClassifiedError {
  constructor(message: string) {
    super("runtime", message);
    this.name = "UnsupportedApiError";
  }
}
