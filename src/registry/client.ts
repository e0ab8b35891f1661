import { ClassifiedError } from "../failure/index.ts";
import { manifestReference, type ImageReference } from "../reference/index.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { createContentFetcher, type ContentFetcher } from "./content.ts";
import {
  isIndex,
  MANIFEST_ACCEPT,
  MANIFEST_BODY_LIMIT,
  manifestSize,
  parseManifestDocument,
  sha256Digest,
  verifyDigest,
  type ManifestDocument,
} from "./documents.ts";
import { manifestUrl, tlsOf, type EndpointConfig } from "./endpoints.ts";
import type { RegistryEndpoint } from "./hosts.ts";
import { CredentialKeyring } from "./keyring.ts";
import { nodePlatform, selectManifest, type Platform } from "./platform.ts";
import { RegistryRequests, type RegistryLogger, type Target } from "./requests.ts";
import { header, type Answer } from "./transport.ts";
import { UnpackedSizes, type UnpackedSizeLimits } from "./unpacked-size.ts";

export type { RegistryLogger } from "./requests.ts";

export interface ResolvedImage {
  /** Top-level digest, the one the runtime records after a pull. */
  readonly digest: string;
  readonly mediaType: string;
  readonly platforms: Platform[] | undefined;
  /** Config plus layer bytes of the manifest this node's platform pulls, when asked for. */
  readonly platformSize: number | undefined;
  /** What a pull of that manifest writes to the image filesystem, when asked for a size. */
  readonly pullSize: PullSize | undefined;
}

/** The disk guard's figures for a pull (the shape of warm's `ImageSize`). */
export interface PullSize {
  /** Config plus layer bytes downloaded: `platformSize`. */
  readonly compressed: number;
  /**
   * What the layers whose unpacked size is known unpack to: uncompressed layers, and gzip'd ones
   * by their trailer.
   */
  readonly uncompressed: number;
  /** Compressed bytes of the layers whose unpacked size is not known (zstd, ambiguous, unread). */
  readonly unsized: number;
}

export interface RegistryClientOptions extends EndpointConfig {
  readonly keyring?: CredentialKeyring;
  readonly platform?: Platform;
  readonly requestTimeoutMs?: number;
  readonly maxRetries?: number;
  readonly logger?: RegistryLogger;
  /** Bounds on reading layers' unpacked sizes for `withSize` (see UNPACKED_SIZE_LIMITS). */
  readonly unpackedSizeLimits?: UnpackedSizeLimits;
}

export interface ResolveOptions {
  readonly signal?: AbortSignal;
  /**
   * Also fetch the platform manifest to learn what a pull will download, and read what its layers
   * unpack to (a few bytes of each gzip'd layer).
   */
  readonly withSize?: boolean;
}

/** Resolves tags, and fetches content by digest (what a bundle needs: see ContentFetcher). */
export interface RegistryClient extends ContentFetcher {
  resolve(reference: ImageReference, options?: ResolveOptions): Promise<ResolvedImage>;
  close(): Promise<void>;
}

/** What the manifest a node's platform pulls downloads and unpacks to. */
interface PlatformSize {
  readonly size: number;
  readonly unpacked: number;
  readonly unsized: number;
  readonly platforms: Platform[] | undefined;
}

/** Manifests are immutable by digest; keep the recent ones, within a memory budget. */
const MANIFEST_CACHE = { maxEntries: 512, maxWeight: 16 * 1024 * 1024 };

/** An index may point at another index; more than this is a loop or an attack. */
export const MAX_INDEX_DEPTH = 4;

/** Resolves references to digests the way the runtime will, with its credentials and mirrors. */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const platform = options.platform ?? nodePlatform();
  const requests = new RegistryRequests({
    ...options,
    keyring: options.keyring ?? CredentialKeyring.empty(),
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    maxRetries: options.maxRetries ?? 3,
  });
  const { auth } = requests;
  const manifests = new BoundedCache<string, ManifestDocument>(MANIFEST_CACHE);
  const unpackedSizes = new UnpackedSizes(requests, options.unpackedSizeLimits);
  const subjectOf = (endpoint: RegistryEndpoint, target: Target): string =>
    requests.subjectOf(endpoint, target);
  const fail = (answer: Answer, endpoint: RegistryEndpoint, target: Target): ClassifiedError =>
    requests.fail(answer, endpoint, target);

  function send(
    method: "HEAD" | "GET",
    endpoint: RegistryEndpoint,
    target: Target,
    ref: string,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    const request = {
      method,
      url: manifestUrl(endpoint, target.reference, ref),
      accept: MANIFEST_ACCEPT,
      tls: tlsOf(endpoint),
      bodyLimit: MANIFEST_BODY_LIMIT,
      subject: subjectOf(endpoint, target),
      signal,
    };
    return auth.send(request, target);
  }

  async function manifestAt(
    endpoint: RegistryEndpoint,
    target: Target,
    ref: string,
    signal: AbortSignal | undefined,
  ): Promise<{ bytes: Buffer; mediaType: string }> {
    const answer = await send("GET", endpoint, target, ref, signal);
    if (answer.status !== 200) throw fail(answer, endpoint, target);
    return { bytes: answer.body, mediaType: header(answer, "content-type") ?? "" };
  }

  function remember(digest: string, bytes: Buffer, subject: string): ManifestDocument {
    const document = parseManifestDocument(bytes, subject);
    manifests.set(digest, document, { weight: bytes.length });
    return document;
  }

  async function documentAt(
    endpoint: RegistryEndpoint,
    target: Target,
    digest: string,
    signal: AbortSignal | undefined,
  ): Promise<ManifestDocument> {
    const cached = manifests.get(digest);
    if (cached !== undefined) return cached;
    const { bytes } = await manifestAt(endpoint, target, digest, signal);
    const subject = `${target.name}@${digest} at ${endpoint.url}`;
    verifyDigest(bytes, digest, subject);
    return remember(digest, bytes, subject);
  }

  async function platformSize(
    endpoint: RegistryEndpoint,
    target: Target,
    digest: string,
    signal: AbortSignal | undefined,
    depth = 0,
  ): Promise<PlatformSize> {
    const document = await documentAt(endpoint, target, digest, signal);
    if (!isIndex(document)) {
      const unpacked = await unpackedSizes.of(endpoint, target, document, signal);
      return {
        size: manifestSize(document),
        unpacked: unpacked.bytes,
        unsized: unpacked.unsizedBytes,
        platforms: undefined,
      };
    }
    if (depth >= MAX_INDEX_DEPTH)
      throw new ClassifiedError("invalid", `${target.name}: indexes nest deeper than ${MAX_INDEX_DEPTH}`);
    const platforms = document.manifests.flatMap((m) => (m.platform ? [m.platform] : []));
    const match = selectManifest(document, platform);
    if (match === undefined) {
      throw new ClassifiedError(
        "not_found",
        `${target.name} has no manifest for ${platform.os}/${platform.architecture}`,
      );
    }
    const inner = await platformSize(endpoint, target, match.digest, signal, depth + 1);
    return { ...inner, platforms };
  }

  async function resolveAt(
    endpoint: RegistryEndpoint,
    target: Target,
    resolveOptions: ResolveOptions,
  ): Promise<ResolvedImage> {
    const { reference } = target;
    const { signal } = resolveOptions;
    const ref = manifestReference(reference);
    const head = await send("HEAD", endpoint, target, ref, signal);
    let digest = head.status === 200 ? header(head, "docker-content-digest") : undefined;
    let mediaType = header(head, "content-type") ?? "";
    if (head.status !== 200 && head.status !== 405) throw fail(head, endpoint, target);
    if (digest === undefined) {
      const got = await manifestAt(endpoint, target, ref, signal);
      if (reference.digest !== undefined)
        verifyDigest(got.bytes, reference.digest, subjectOf(endpoint, target));
      digest = reference.digest ?? sha256Digest(got.bytes);
      mediaType = got.mediaType;
      // Only a size lookup needs the document itself.
      if (resolveOptions.withSize) remember(digest, got.bytes, subjectOf(endpoint, target));
    }
    if (!resolveOptions.withSize) {
      return {
        digest,
        mediaType,
        platforms: undefined,
        platformSize: undefined,
        pullSize: undefined,
      };
    }
    const sized = await platformSize(endpoint, target, digest, signal);
    return {
      digest,
      mediaType,
      platforms: sized.platforms,
      platformSize: sized.size,
      pullSize: { compressed: sized.size, uncompressed: sized.unpacked, unsized: sized.unsized },
    };
  }

  return {
    resolve(reference, resolveOptions = {}) {
      const target = requests.target(reference);
      return requests.acrossEndpoints(target, "resolve", resolveOptions.signal, (endpoint) =>
        resolveAt(endpoint, target, resolveOptions),
      );
    },
    ...createContentFetcher(requests),
    close: () => requests.close(),
  };
}
