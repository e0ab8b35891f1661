import { BoundedCache } from "./bounded-cache.ts";
import type { ImageManifest } from "./documents.ts";
import { blobUrl, tlsOf } from "./endpoints.ts";
import type { RegistryEndpoint } from "./hosts.ts";
import type { RegistryRequests, Target } from "./requests.ts";
import { header } from "./transport.ts";

/** A gzip member ends in ISIZE: its uncompressed length modulo 2^32, little-endian (RFC 1952). */
export const GZIP_ISIZE_BYTES = 4;
const ISIZE_MODULUS = 2 ** 32;

const UNCOMPRESSED_LAYERS = new Set([
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.docker.image.rootfs.diff.tar",
]);

/** How a layer is stored, by its media type: what its unpacked size can be learned from. */
export function layerCompression(mediaType: string): "gzip" | "none" | "other" {
  // `+gzip` for OCI, `.tar.gzip` for Docker's `rootfs.diff.tar.gzip` (and its foreign layers).
  if (mediaType.endsWith("+gzip") || mediaType.endsWith(".tar.gzip")) return "gzip";
  if (UNCOMPRESSED_LAYERS.has(mediaType)) return "none";
  return "other";
}

/**
 * What a gzip'd layer of `compressedSize` bytes unpacks to, from the last 4 bytes of its blob, or
 * undefined when they cannot say. ISIZE is the size modulo 4 GiB: a layer whose ISIZE is below
 * its compressed size (stored blocks of incompressible data, a last member that is not the whole
 * stream as in eStargz, or a layer that wrapped past 4 GiB) or that is itself 4 GiB or more is
 * ambiguous, and left to the disk guard's estimate.
 */
export function unpackedFromIsize(compressedSize: number, trailer: Buffer): number | undefined {
  if (trailer.length !== GZIP_ISIZE_BYTES || compressedSize >= ISIZE_MODULUS) return undefined;
  const isize = trailer.readUInt32LE(0);
  return isize < compressedSize ? undefined : isize;
}

/** What a manifest's layers unpack to, as far as it is known. */
export interface UnpackedSize {
  /** Unpacked bytes of the layers whose unpacked size is known. */
  readonly bytes: number;
  /** Compressed bytes of the layers whose unpacked size is not known (zstd, ambiguous, unread). */
  readonly unsizedBytes: number;
}

export interface UnpackedSizeLimits {
  /** Trailer requests for one manifest; its other layers are left unsized. */
  readonly requestsPerImage: number;
  /** Trailer requests in flight at once for one manifest. */
  readonly concurrency: number;
  /** Deadline of one trailer request. */
  readonly requestTimeoutMs: number;
  /** Deadline of all a manifest's trailer requests together. */
  readonly totalTimeoutMs: number;
  /** Layers remembered, by digest. */
  readonly cacheEntries: number;
  /** How long a layer whose trailer could not be read is not asked for again. */
  readonly failureTtlMs: number;
}

export const UNPACKED_SIZE_LIMITS: UnpackedSizeLimits = {
  requestsPerImage: 64,
  concurrency: 8,
  requestTimeoutMs: 2_000,
  totalTimeoutMs: 5_000,
  cacheEntries: 4096,
  failureTtlMs: 10 * 60_000,
};

type Layer = ImageManifest["layers"][number];

/**
 * Learns what layers unpack to before they are pulled: a ranged GET of each gzip'd layer's last 4
 * bytes (its ISIZE), from the endpoint that served the manifest, following redirects to storage
 * as blob fetches do. Bounded per image (requests, concurrency, deadlines) and remembered by layer
 * digest, so layers shared between images are asked for once. A layer whose trailer cannot be read
 * (the registry ignores ranges, the request fails or times out) is left unsized.
 */
export class UnpackedSizes {
  readonly #requests: RegistryRequests;
  readonly #limits: UnpackedSizeLimits;
  /** A layer's unpacked bytes, or null when its trailer cannot say. */
  readonly #known: BoundedCache<string, number | null>;
  readonly #pending = new Map<string, Promise<number | undefined>>();

  constructor(requests: RegistryRequests, limits: UnpackedSizeLimits = UNPACKED_SIZE_LIMITS) {
    this.#requests = requests;
    this.#limits = limits;
    this.#known = new BoundedCache({ maxEntries: limits.cacheEntries });
  }

  async of(
    endpoint: RegistryEndpoint,
    target: Target,
    manifest: ImageManifest,
    signal: AbortSignal | undefined,
  ): Promise<UnpackedSize> {
    let bytes = 0;
    let unsizedBytes = 0;
    const toRead = new Map<string, Layer>();
    const waiting: Layer[] = [];
    for (const layer of manifest.layers) {
      const compression = layerCompression(layer.mediaType);
      if (compression === "none") {
        bytes += layer.size;
        continue;
      }
      const known = compression === "gzip" ? this.#known.get(layer.digest) : null;
      if (typeof known === "number") {
        bytes += known;
      } else if (
        known === null ||
        (toRead.size >= this.#limits.requestsPerImage && !toRead.has(layer.digest))
      ) {
        unsizedBytes += layer.size;
      } else {
        toRead.set(layer.digest, layer);
        waiting.push(layer);
      }
    }
    if (waiting.length === 0) return { bytes, unsizedBytes };
    const deadline = AbortSignal.timeout(this.#limits.totalTimeoutMs);
    const read = await this.#readAll([...toRead.values()], endpoint, target, signal, deadline);
    for (const layer of waiting) {
      const unpacked = read.get(layer.digest);
      if (unpacked === undefined) unsizedBytes += layer.size;
      else bytes += unpacked;
    }
    return { bytes, unsizedBytes };
  }

  async #readAll(
    layers: readonly Layer[],
    endpoint: RegistryEndpoint,
    target: Target,
    signal: AbortSignal | undefined,
    deadline: AbortSignal,
  ): Promise<Map<string, number | undefined>> {
    const results = new Map<string, number | undefined>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < layers.length) {
        const layer = layers[next++];
        if (layer === undefined) break;
        results.set(layer.digest, await this.#layer(layer, endpoint, target, signal, deadline));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#limits.concurrency, layers.length) }, worker));
    return results;
  }

  /** One layer's unpacked bytes; a request already in flight for it (another image) is shared. */
  #layer(
    layer: Layer,
    endpoint: RegistryEndpoint,
    target: Target,
    signal: AbortSignal | undefined,
    deadline: AbortSignal,
  ): Promise<number | undefined> {
    const pending = this.#pending.get(layer.digest);
    if (pending !== undefined) return pending;
    const signals = [deadline, AbortSignal.timeout(this.#limits.requestTimeoutMs)];
    if (signal !== undefined) signals.push(signal);
    const reading = this.#readTrailer(layer, endpoint, target, AbortSignal.any(signals))
      .then(
        (unpacked) => {
          this.#known.set(layer.digest, unpacked ?? null);
          return unpacked;
        },
        () => {
          // The caller gave up: another caller may ask again at once.
          if (signal?.aborted !== true && !deadline.aborted) {
            this.#known.set(layer.digest, null, { ttlMs: this.#limits.failureTtlMs });
          }
          return undefined;
        },
      )
      .finally(() => this.#pending.delete(layer.digest));
    this.#pending.set(layer.digest, reading);
    return reading;
  }

  /**
   * The layer's unpacked bytes from its last 4 bytes. Throws when they could not be fetched;
   * undefined when they were, and cannot say.
   */
  async #readTrailer(
    layer: Layer,
    endpoint: RegistryEndpoint,
    target: Target,
    signal: AbortSignal,
  ): Promise<number | undefined> {
    if (layer.size < GZIP_ISIZE_BYTES) return undefined;
    const what = `${target.reference.path}@${layer.digest}`;
    const first = layer.size - GZIP_ISIZE_BYTES;
    const answer = await this.#requests.auth.send(
      {
        method: "GET",
        url: blobUrl(endpoint, target.reference, layer.digest),
        accept: "*/*",
        range: `bytes=${first}-${layer.size - 1}`,
        tls: tlsOf(endpoint),
        // A registry that ignores the range and sends the whole blob is cut off at once.
        bodyLimit: GZIP_ISIZE_BYTES,
        subject: this.#requests.subjectOf(endpoint, target, what),
        signal,
      },
      target,
    );
    if (answer.status !== 206) throw new Error(`${what}: answered ${answer.status} to a range request`);
    const range = header(answer, "content-range");
    const served = range === undefined ? undefined : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(range.trim());
    const [, start, end, total] = served ?? [];
    const matches =
      Number(start) === first &&
      Number(end) === layer.size - 1 &&
      (total === "*" || Number(total) === layer.size);
    if (range !== undefined && !matches) throw new Error(`${what}: answered the range with ${range}`);
    return unpackedFromIsize(layer.size, answer.body);
  }
}
