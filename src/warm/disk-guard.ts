import { statfs } from "node:fs/promises";

export interface DiskVerdict {
  readonly ok: boolean;
  /** Predicted use of the image filesystem after the pull, 0..1; undefined when it cannot be seen. */
  readonly predictedRatio: number | undefined;
  readonly message: string;
}

export interface DiskGuard {
  check(expectedBytes: number | undefined): Promise<DiskVerdict>;
}

/** statfs errors that mean "this container cannot see the runtime's filesystem", not "disk trouble". */
const NOT_VISIBLE = new Set(["ENOENT", "EACCES", "EPERM", "ENOTDIR"]);

/**
 * Keeps pulls from pushing the image filesystem past `threshold` (default under kubelet's 85% GC
 * mark), so pre-pulling never triggers image GC or eviction. `mountpoint` comes from ImageFsInfo
 * or configuration. In a container that does not mount the runtime's filesystem the guard cannot
 * measure anything: it lets pulls through and says so once through `onUnavailable`, rather than
 * blocking every pull on a node with plenty of space.
 */
export function createDiskGuard(options: {
  mountpoint: () => Promise<string>;
  threshold: number;
  onUnavailable?: (message: string) => void;
}): DiskGuard {
  let warned = false;
  return {
    async check(expectedBytes) {
      const mountpoint = await options.mountpoint();
      let stats;
      try {
        stats = await statfs(mountpoint);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? "";
        if (!NOT_VISIBLE.has(code)) throw error;
        const message = `disk guard off: the image filesystem ${mountpoint} is not visible here (${code}); mount it read-only or set --image-fs-path`;
        if (!warned) options.onUnavailable?.(message);
        warned = true;
        return { ok: true, predictedRatio: undefined, message };
      }
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
