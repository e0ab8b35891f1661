import { statfs } from "node:fs/promises";

export interface DiskVerdict {
  readonly ok: boolean;
  /** Predicted use of the image filesystem after the pull, 0..1. */
  readonly predictedRatio: number;
  readonly message: string;
}

export interface DiskGuard {
  check(expectedBytes: number | undefined): Promise<DiskVerdict>;
}

/**
 * Keeps pulls from pushing the image filesystem past `threshold` (default under kubelet's 85% GC
 * mark), so pre-pulling never triggers image GC or eviction. `mountpoint` comes from ImageFsInfo
 * or configuration.
 */
export function createDiskGuard(options: {
  mountpoint: () => Promise<string>;
  threshold: number;
}): DiskGuard {
  return {
    async check(expectedBytes) {
      const mountpoint = await options.mountpoint();
      const stats = await statfs(mountpoint);
      const capacity = stats.blocks * stats.bsize;
      const used = capacity - stats.bavail * stats.bsize;
      const predicted = capacity === 0 ? 1 : (used + (expectedBytes ?? 0)) / capacity;
      const percent = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;
      const ok = predicted < options.threshold;
      return {
        ok,
        predictedRatio: predicted,
        message: ok
          ? `${mountpoint} would be ${percent(predicted)} full`
          : `image filesystem ${mountpoint} would be ${percent(predicted)} full after this pull (${expectedBytes === undefined ? "size unknown" : `${expectedBytes} bytes`}), above the ${percent(options.threshold)} limit`,
      };
    },
  };
}
