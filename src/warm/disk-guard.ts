import { statfs } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ClassifiedError } from "../failure/index.ts";
import {
  formatBytes,
  judgePull,
  ObservedSizes,
  predictedPullBytes,
  Reservations,
  UNPACK_EXPANSION_FACTOR,
  usedRatio,
  type FilesystemSample,
  type ImageSize,
  type PullJudgement,
} from "./disk-budget.ts";
import type { ImageRuntime } from "./ports.ts";

/** A pull the guard let through: it holds a reservation until `finish`. */
export interface DiskTicket {
  /** Aborted with a `disk` error when the filesystem crosses the threshold while pulls run. */
  readonly signal: AbortSignal;
  /**
   * Ends the pull's watch; returns why the pull overfilled the disk, when it did. `complete` says
   * the runtime finished the pull (the image is recorded): its reservation is released at once. A
   * pull that did not (stopped, cancelled, failed) keeps its reservation after `finish` returns,
   * until the runtime stops writing: containerd finishes unpacking the layer it is on after the
   * cancel. Unsaid, a pull is complete unless the guard stopped it.
   */
  finish(options?: { readonly complete?: boolean }): Promise<string | undefined>;
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

/**
 * After a pull that did not complete, the filesystem is read again after `intervalMs`: when its
 * use grew, it is read on until it has not grown for `quietMs` (the runtime has written the layer
 * it was on), for `limitMs` at most. The pull's reservation is held meanwhile, in the background.
 */
export const SETTLE = { intervalMs: 50, quietMs: 300, limitMs: 3_000 } as const;

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

interface RunningPull {
  readonly image: string | undefined;
  readonly usedAtStart: number;
  shared: boolean;
}

/** What a pull needs, for a refusal: its bytes and where the figure comes from. */
function needs(size: ImageSize, seen: number | undefined, pullBytes: number): string {
  if (seen !== undefined && seen >= pullBytes) {
    return `${formatBytes(pullBytes)} (as its last pull showed)`;
  }
  const download = size.compressed ?? 0;
  const unpacked = formatBytes(pullBytes - download);
  const how =
    size.uncompressed === undefined
      ? `${unpacked} unpacked, estimated at ${UNPACK_EXPANSION_FACTOR}×`
      : (size.unsized ?? 0) > 0
        ? `${unpacked} unpacked, in part estimated at ${UNPACK_EXPANSION_FACTOR}×`
        : `${unpacked} unpacked`;
  return `${formatBytes(pullBytes)} (${formatBytes(download)} to download, ${how})`;
}

/**
 * Why a pull may not start: how full the filesystem would be, what the pull needs and how much
 * room there is. A pull that would not fit even with no other pull in flight says so: waiting for
 * the pulls in flight does not help it.
 */
function refusal(
  mountpoint: string,
  size: ImageSize,
  seen: number | undefined,
  pullBytes: number | undefined,
  verdict: PullJudgement & {
    readonly threshold: number;
    readonly inFlight: number;
    readonly reservedBytes: number;
  },
): string {
  const inFlight = verdict.inFlight > 0 ? ` with ${verdict.inFlight} pull(s) in flight` : "";
  const head = `image filesystem ${mountpoint} would be ${percent(verdict.predictedRatio)} full after this pull${inFlight}, above the ${percent(verdict.threshold)} limit`;
  const room = `there is room for ${formatBytes(verdict.roomBytes)} under the limit`;
  const why =
    pullBytes === undefined ? "its size is unknown" : `the pull needs ${needs(size, seen, pullBytes)}`;
  if (!verdict.fitsAlone) {
    return `${head}: ${why} and ${room}${verdict.inFlight > 0 ? "; it does not fit even without the pulls in flight" : ""}`;
  }
  return `${head}: ${why}; ${room}, and the pulls in flight have reserved ${formatBytes(verdict.reservedBytes)}`;
}

/**
 * Keeps pulls from pushing the image filesystem past `threshold` (default under kubelet's 85% GC
 * mark), so pre-pulling never triggers image GC or eviction:
 * - admission: use now + every reservation in flight + this pull's prediction (unpacking
 *   included) must stay under the threshold, and an admitted pull reserves its prediction;
 * - watch: while pulls run the filesystem is read every few milliseconds, and crossing the
 *   threshold aborts every pull in flight (what an image really unpacks to is only seen here);
 * - finish: a last reading catches a pull that crossed it between two readings; a pull that did
 *   not complete keeps its reservation until the runtime has stopped writing;
 * - memory: what a stopped pull that ran alone had written counts against the next try of that
 *   image, so an image that does not fit is blocked before it is downloaded again.
 * An admission the guard refuses says what the pull needs and how much room is left; when it
 * would not fit even with no other pull in flight, it says so.
 * In a container that does not mount the runtime's filesystem the guard cannot measure anything:
 * it lets pulls through and says so once through `onUnavailable`.
 */
export function createDiskGuard(options: {
  mountpoint: () => Promise<string>;
  threshold: number;
  onUnavailable?: (message: string) => void;
  /** Reads the filesystem (statfs unless told); tests give a filesystem of their own. */
  read?: (mountpoint: string) => Promise<FilesystemSample>;
  settle?: { readonly intervalMs: number; readonly quietMs: number; readonly limitMs: number };
}): DiskGuard {
  const { threshold, read = readFilesystem, settle = SETTLE } = options;
  const reservations = new Reservations();
  const observed = new ObservedSizes();
  /**
   * Pulls in flight: what the filesystem used when each was admitted, to learn what it wrote, and
   * whether another pull ran beside it at any time.
   */
  const running = new Map<AbortController, RunningPull>();
  /**
   * Only a pull that ran alone from start to end can be credited with the growth since it
   * started: crediting the last of two pulls stopped together with both their writes would keep
   * it out for good.
   */
  const learn = (pull: RunningPull, now: FilesystemSample): void => {
    if (pull.image !== undefined && !pull.shared) {
      observed.record(pull.image, now.usedBytes - pull.usedAtStart);
    }
  };
  let warned = false;
  let watch: NodeJS.Timeout | undefined;
  let reading = false;

  const sample = async (mountpoint: string): Promise<FilesystemSample | undefined> => {
    try {
      return await read(mountpoint);
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

  /** The last reading once the filesystem's use has stopped growing (see `SETTLE`). */
  const settled = async (mountpoint: string): Promise<FilesystemSample | undefined> => {
    const started = performance.now();
    let last = await sample(mountpoint);
    let grewAt: number | undefined;
    while (last !== undefined && performance.now() - started < settle.limitMs) {
      // Unreferenced: a settling reservation does not keep a finished `prepull warm` alive.
      await sleep(settle.intervalMs, undefined, { ref: false });
      const next = await sample(mountpoint);
      if (next !== undefined && next.usedBytes > last.usedBytes) grewAt = performance.now();
      last = next;
      if (grewAt === undefined || performance.now() - grewAt >= settle.quietMs) break;
    }
    return last;
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
          const context = { threshold, inFlight: reservations.count, reservedBytes: reservations.totalBytes };
          return {
            ok: false,
            message: refusal(mountpoint, size, seen, pullBytes, { ...verdict, ...context }),
          };
        }
      }
      const ticket = reservations.reserve(pullBytes);
      const controller = new AbortController();
      const pull: RunningPull = { image, usedAtStart: now?.usedBytes ?? 0, shared: running.size > 0 };
      for (const other of running.values()) other.shared = true;
      running.set(controller, pull);
      if (now !== undefined) startWatch(mountpoint);
      let finished = false;
      return {
        ok: true,
        ticket: {
          signal: controller.signal,
          async finish(finishOptions = {}) {
            if (finished) return undefined;
            finished = true;
            const stopped = controller.signal.aborted;
            const release = (): void => {
              running.delete(controller);
              reservations.release(ticket);
              if (running.size === 0) {
                clearInterval(watch);
                watch = undefined;
              }
            };
            // A pull that did not complete keeps its reservation (and its watch) in the
            // background until the runtime stops writing; the caller goes on at once.
            const settling = now !== undefined && !(finishOptions.complete ?? !stopped);
            let handedOff = false;
            try {
              const last = now === undefined ? undefined : await sample(mountpoint);
              const message = stopped
                ? (controller.signal.reason as Error).message
                : last && overfilled(mountpoint, last);
              if (last !== undefined && message !== undefined) learn(pull, last);
              if (settling) {
                settled(mountpoint)
                  .then((after) => {
                    // Settled, what a pull stopped alone wrote is known better than when it was stopped.
                    if (after !== undefined && message !== undefined) learn(pull, after);
                  })
                  .catch(() => undefined)
                  .finally(release);
                handedOff = true;
              }
              return message;
            } finally {
              if (!handedOff) release();
            }
          },
        },
      };
    },
  };
}
