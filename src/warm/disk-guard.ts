import { statfs } from "node:fs/promises";
import { ClassifiedError } from "../failure/index.ts";
import {
  judgePull,
  ObservedSizes,
  predictedPullBytes,
  Reservations,
  usedRatio,
  type FilesystemSample,
  type ImageSize,
} from "./disk-budget.ts";
import type { ImageRuntime } from "./ports.ts";

/** A pull the guard let through: it holds a reservation until `finish`. */
export interface DiskTicket {
  /** Aborted with a `disk` error when the filesystem crosses the threshold while pulls run. */
  readonly signal: AbortSignal;
  /** Releases the reservation; returns why the pull overfilled the disk, when it did. */
  finish(): Promise<string | undefined>;
}

export type DiskAdmission =
  { readonly ok: true; readonly ticket: DiskTicket } | { readonly ok: false; readonly message: string };

export interface DiskGuard {
  /** `image` names the pull, so that what a stopped pull wrote counts against its next try. */
  admit(size: ImageSize, image?: string): Promise<DiskAdmission>;
}

/** statfs errors that mean "this container cannot see the runtime's filesystem", not "disk trouble". */
const NOT_VISIBLE = new Set(["ENOENT", "EACCES", "EPERM", "ENOTDIR"]);

/** containerd unpacks at hundreds of MB/s: poll often while pulls run, never when idle. */
export const DISK_WATCH_INTERVAL_MS = 10;

const percent = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;

/**
 * How long the runtime's answer to "where is the image filesystem" is kept: it moves only when
 * the runtime is reconfigured, and asking before every pull was one more CRI call per pull.
 */
export const MOUNTPOINT_TTL_MS = 60_000;

/** The image filesystem: `override` when configured, else the first one ImageFsInfo names. */
export function imageFilesystemOf(
  runtime: Pick<ImageRuntime, "imageFsInfo">,
  override?: string,
  now: () => number = Date.now,
): () => Promise<string> {
  let known: { readonly mountpoint: string; readonly at: number } | undefined;
  return async () => {
    if (override !== undefined) return override;
    if (known !== undefined && now() - known.at < MOUNTPOINT_TTL_MS) return known.mountpoint;
    const [filesystem] = await runtime.imageFsInfo();
    if (filesystem === undefined || filesystem.mountpoint === "") {
      throw new Error("the runtime reports no image filesystem; set --image-fs-path");
    }
    known = { mountpoint: filesystem.mountpoint, at: now() };
    return filesystem.mountpoint;
  };
}

/** One statfs reading, counting blocks reserved for root as used (the runtime may not get them). */
async function readFilesystem(mountpoint: string): Promise<FilesystemSample> {
  const stats = await statfs(mountpoint);
  const capacityBytes = stats.blocks * stats.bsize;
  return { capacityBytes, usedBytes: capacityBytes - stats.bavail * stats.bsize };
}

const errorCode = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? "";

/**
 * The image filesystem's used share as the guard reads it, for metrics: undefined while the
 * filesystem is not visible here (the guard is off). While the runtime cannot say where the
 * filesystem is (it is down), the last reading stands.
 */
export function imageFilesystemUse(mountpoint: () => Promise<string>): () => Promise<number | undefined> {
  let last: number | undefined;
  return async () => {
    let path: string;
    try {
      path = await mountpoint();
    } catch {
      return last;
    }
    try {
      last = usedRatio(await readFilesystem(path));
    } catch (error) {
      if (NOT_VISIBLE.has(errorCode(error))) last = undefined;
    }
    return last;
  };
}

/**
 * Keeps pulls from pushing the image filesystem past `threshold` (default under kubelet's 85% GC
 * mark), so pre-pulling never triggers image GC or eviction:
 * - admission: use now + every reservation in flight + this pull's prediction (unpacking
 *   included) must stay under the threshold, and an admitted pull reserves its prediction;
 * - watch: while pulls run the filesystem is read every few milliseconds, and crossing the
 *   threshold aborts every pull in flight (what an image really unpacks to is only seen here);
 * - finish: a last reading catches a pull that crossed it between two readings;
 * - memory: what a stopped pull had written counts against the next try of that image, so an
 *   image that does not fit is blocked before it is downloaded again.
 * In a container that does not mount the runtime's filesystem the guard cannot measure anything:
 * it lets pulls through and says so once through `onUnavailable`.
 */
export function createDiskGuard(options: {
  mountpoint: () => Promise<string>;
  threshold: number;
  onUnavailable?: (message: string) => void;
}): DiskGuard {
  const { threshold } = options;
  const reservations = new Reservations();
  const observed = new ObservedSizes();
  /** Pulls in flight: what the filesystem used when each was admitted, to learn what it wrote. */
  const running = new Map<AbortController, { image: string | undefined; usedAtStart: number }>();
  /** Only a pull that ran alone can be credited with the growth since it started. */
  const learn = (pull: { image: string | undefined; usedAtStart: number }, now: FilesystemSample): void => {
    if (pull.image !== undefined && running.size === 1) {
      observed.record(pull.image, now.usedBytes - pull.usedAtStart);
    }
  };
  let warned = false;
  let watch: NodeJS.Timeout | undefined;
  let reading = false;

  const sample = async (mountpoint: string): Promise<FilesystemSample | undefined> => {
    try {
      return await readFilesystem(mountpoint);
    } catch (error) {
      const code = errorCode(error);
      if (!NOT_VISIBLE.has(code)) throw error;
      if (!warned) {
        options.onUnavailable?.(
          `disk guard off: the image filesystem ${mountpoint} is not visible here (${code}); mount it read-only or set --image-fs-path`,
        );
      }
      warned = true;
      return undefined;
    }
  };

  const overfilled = (mountpoint: string, now: FilesystemSample): string | undefined =>
    usedRatio(now) < threshold
      ? undefined
      : `image filesystem ${mountpoint} reached ${percent(usedRatio(now))} while pulling, above the ${percent(threshold)} limit`;

  const poll = async (mountpoint: string): Promise<void> => {
    if (reading) return;
    reading = true;
    try {
      const now = await sample(mountpoint);
      const message = now && overfilled(mountpoint, now);
      if (now === undefined || message === undefined) return;
      for (const [controller, pull] of running) {
        if (controller.signal.aborted) continue;
        learn(pull, now);
        controller.abort(new ClassifiedError("disk", message));
      }
    } finally {
      reading = false;
    }
  };

  const startWatch = (mountpoint: string): void => {
    watch ??= setInterval(() => {
      poll(mountpoint).catch(() => undefined);
    }, DISK_WATCH_INTERVAL_MS).unref();
  };

  return {
    async admit(size, image) {
      const mountpoint = await options.mountpoint();
      const now = await sample(mountpoint);
      const seen = image === undefined ? undefined : observed.get(image);
      const pullBytes = predictedPullBytes({ ...size, observed: seen });
      if (now !== undefined) {
        const verdict = judgePull({
          sample: now,
          reservedBytes: reservations.totalBytes,
          pullBytes,
          threshold,
        });
        if (!verdict.ok) {
          const inFlight = reservations.count > 0 ? ` with ${reservations.count} pull(s) in flight` : "";
          const sized =
            seen !== undefined
              ? `${pullBytes ?? 0} bytes, as its last pull showed`
              : size.compressed === undefined
                ? "size unknown"
                : `${size.compressed} bytes compressed, ${pullBytes ?? 0} bytes with unpacking`;
          return {
            ok: false,
            message: `image filesystem ${mountpoint} would be ${percent(verdict.predictedRatio)} full after this pull (${sized})${inFlight}, above the ${percent(threshold)} limit`,
          };
        }
      }
      const ticket = reservations.reserve(pullBytes);
      const controller = new AbortController();
      const pull = { image, usedAtStart: now?.usedBytes ?? 0 };
      running.set(controller, pull);
      if (now !== undefined) startWatch(mountpoint);
      let finished = false;
      return {
        ok: true,
        ticket: {
          signal: controller.signal,
          async finish() {
            if (finished) return undefined;
            finished = true;
            try {
              if (controller.signal.aborted) return (controller.signal.reason as Error).message;
              const last = now === undefined ? undefined : await sample(mountpoint);
              const message = last && overfilled(mountpoint, last);
              if (last !== undefined && message !== undefined) learn(pull, last);
              return message;
            } finally {
              running.delete(controller);
              reservations.release(ticket);
              if (running.size === 0) {
                clearInterval(watch);
                watch = undefined;
              }
            }
          },
        },
      };
    },
  };
}
