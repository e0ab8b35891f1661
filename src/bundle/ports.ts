/**
 * What importing a bundle needs of the runtime, declared here and implemented by containerd's
 * own API (src/containerd): CRI has no import.
 */

export interface ImportPlatform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface StoreCallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface ArchiveImportOptions extends StoreCallOptions {
  /** The record the archive's index.json is stored under while the import runs. */
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Only this platform's manifests are walked and unpacked. */
  readonly platform: ImportPlatform;
  readonly timeoutMs: number;
  /** Bytes of the archive handed to the runtime so far (progress). */
  readonly onSent?: (bytes: number) => void;
}

/** The content an image record points at (an OCI descriptor). */
export interface RecordTarget {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface ImageStore {
  /** The size of a stored blob, `undefined` when it is not stored. */
  contentSize(digest: string, options?: StoreCallOptions): Promise<number | undefined>;
  /** Streams a tar of an OCI layout into the runtime's image store, unpacked. */
  importArchive(archive: AsyncIterable<Uint8Array>, options: ArchiveImportOptions): Promise<void>;
  /** Creates the record, or points an existing one at `target` and sets `labels` (others stay). */
  putImage(
    record: { name: string; target: RecordTarget; labels: Readonly<Record<string, string>> },
    options?: StoreCallOptions,
  ): Promise<void>;
  /** Removes the record; an absent one is no error. */
  deleteImage(name: string, options?: StoreCallOptions): Promise<void>;
}
