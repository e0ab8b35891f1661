/**
 * The disk guard's arithmetic, free of I/O. A pull costs the image filesystem twice: containerd
 * keeps the compressed blobs in its content store and writes the unpacked layers as snapshots.
 * The registry client reads what most layers unpack to (a gzip stream's trailer says it); a layer
 * whose unpacked size is not known is budgeted as `UNPACK_EXPANSION_FACTOR` times its compressed
 * size: gzip'd container layers typically unpack to 2–4 times their size (distribution base
 * images, language runtimes), and 3 sits in the middle. Layers that unpack far larger (sparse
 * files, zero-filled layers) and whose size is not known are caught while the pull runs.
 */
export const UNPACK_EXPANSION_FACTOR = 3;

export interface ImageSize {
  /** Compressed bytes of the node platform's config and layers, as the registry reports them. */
  readonly compressed: number | undefined;
  /**
   * Unpacked bytes of the layers whose unpacked size is known. Undefined when none is known: every
   * layer is then budgeted with the factor.
   */
  readonly uncompressed?: number | undefined;
  /**
   * With `uncompressed`, the compressed bytes of the layers whose unpacked size is not known,
   * budgeted with the factor.
   */
  readonly unsized?: number | undefined;
  /** Bytes an earlier pull of this image had written when the guard stopped it: a lower bound. */
  readonly observed?: number | undefined;
}

/** Bytes a pull will write to the image filesystem, or undefined when its size is unknown. */
export function predictedPullBytes(size: ImageSize): number | undefined {
  const { compressed, uncompressed, unsized, observed } = size;
  const unpacked =
    uncompressed === undefined
      ? (compressed ?? 0) * UNPACK_EXPANSION_FACTOR
      : uncompressed + (unsized ?? 0) * UNPACK_EXPANSION_FACTOR;
  const predicted =
    compressed === undefined && uncompressed === undefined ? undefined : (compressed ?? 0) + unpacked;
  if (observed === undefined) return predicted;
  return Math.max(predicted ?? 0, observed);
}

/**
 * What the pulls the guard stopped had written, by image, so that the next try is judged on what
 * the image really takes instead of being pulled (and stopped) again. Bounded: the entries
 * recorded longest ago go first.
 */
export class ObservedSizes {
  readonly #limit: number;
  readonly #bytes = new Map<string, number>();

  constructor(limit = 1024) {
    this.#limit = limit;
  }

  record(image: string, bytes: number): void {
    const largest = Math.max(this.#bytes.get(image) ?? 0, bytes);
    this.#bytes.delete(image);
    this.#bytes.set(image, largest);
    for (const oldest of this.#bytes.keys()) {
      if (this.#bytes.size <= this.#limit) break;
      this.#bytes.delete(oldest);
    }
  }

  get(image: string): number | undefined {
    return this.#bytes.get(image);
  }
}

/** One statfs reading of the image filesystem. */
export interface FilesystemSample {
  readonly capacityBytes: number;
  readonly usedBytes: number;
}

export function usedRatio(sample: FilesystemSample): number {
  return sample.capacityBytes <= 0 ? 1 : sample.usedBytes / sample.capacityBytes;
}

export interface PullJudgement {
  readonly ok: boolean;
  /** Predicted use after this pull and every pull in flight, 0..1. */
  readonly predictedRatio: number;
  /**
   * Whether the pull would fit with no other pull in flight. When it would not, waiting for the
   * pulls in flight does not help: only room made on the filesystem does.
   */
  readonly fitsAlone: boolean;
  /** Bytes left under the threshold now, before any reservation (0 when it is crossed). */
  readonly roomBytes: number;
}

/**
 * A pull may start when the filesystem's use now, plus what the pulls in flight have reserved,
 * plus this pull's prediction stays under `threshold`. Pulls in flight keep their whole
 * reservation until they end, though part of it is already counted in the used bytes: the guard
 * errs towards blocking, and a blocked entry is tried again soon.
 */
export function judgePull(options: {
  readonly sample: FilesystemSample;
  readonly reservedBytes: number;
  readonly pullBytes: number | undefined;
  readonly threshold: number;
}): PullJudgement {
  const { sample, reservedBytes, pullBytes, threshold } = options;
  const ratioWith = (bytes: number): number =>
    usedRatio({ capacityBytes: sample.capacityBytes, usedBytes: sample.usedBytes + bytes });
  const predictedRatio = ratioWith(reservedBytes + (pullBytes ?? 0));
  return {
    ok: predictedRatio < threshold,
    predictedRatio,
    fitsAlone: ratioWith(pullBytes ?? 0) < threshold,
    roomBytes: Math.max(0, Math.floor(sample.capacityBytes * threshold - sample.usedBytes)),
  };
}

/** `1048576` as `1 MiB`, for messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** Bytes reserved by the pulls in flight, each under its own ticket. */
export class Reservations {
  readonly #bytes = new Map<number, number>();
  #next = 0;

  reserve(bytes: number | undefined): number {
    const ticket = this.#next++;
    this.#bytes.set(ticket, Math.max(0, bytes ?? 0));
    return ticket;
  }

  release(ticket: number): void {
    this.#bytes.delete(ticket);
  }

  get totalBytes(): number {
    let total = 0;
    for (const bytes of this.#bytes.values()) total += bytes;
    return total;
  }

  /** Pulls in flight, including those of unknown size. */
  get count(): number {
    return this.#bytes.size;
  }
}
