/**
 * What one load of ImageSets may hold. A ConfigMap holds at most 1 MiB, so a single file past
 * 4 MiB is a mistake (a generated dump, a wrong mount) rather than a big fleet; the totals bound
 * a directory of many files the same way.
 */
export interface ImageSetLimits {
  /** Bytes of one file. */
  readonly fileBytes: number;
  /** Bytes of all files of one load together. */
  readonly totalBytes: number;
  /** Files of one load. */
  readonly files: number;
  /** Flow collections (`[`, `{`) inside each other. */
  readonly flowDepth: number;
  /** Columns of indentation (spaces and `- ` indicators) before a line's content. */
  readonly indent: number;
}

export const DEFAULT_LIMITS: ImageSetLimits = {
  fileBytes: 4 * 1024 * 1024,
  totalBytes: 16 * 1024 * 1024,
  files: 1_000,
  flowDepth: 32,
  indent: 256,
};

/** `4194304` as `4 MiB`, for error messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Number((bytes / (1024 * 1024)).toFixed(1))} MiB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KiB`;
  return `${bytes} bytes`;
}
