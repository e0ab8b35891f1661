import { pipeline } from "node:stream/promises";
import type { Writable } from "node:stream";
import { ClassifiedError, isClassifiedError } from "../failure/index.ts";
import { repositoryName, type ImageReference } from "../reference/index.ts";
import {
  isIndex,
  MANIFEST_ACCEPT,
  MANIFEST_BODY_LIMIT,
  parseManifestDocument,
  verifyDigest,
  type ManifestDocument,
} from "./documents.ts";
import { blobUrl, manifestUrl, tlsOf } from "./endpoints.ts";
import { classifyTransport } from "./errors.ts";
import type { RegistryRequests } from "./requests.ts";
import { header } from "./transport.ts";
import { verifyingStream } from "./verify-stream.ts";

/** Content named by digest: a manifest, an index or a blob. The size is known from its descriptor. */
export interface ContentDescriptor {
  readonly digest: string;
  readonly size: number;
}

/** A manifest or index as the registry stored it: the exact bytes (their digest), and what they say. */
export interface FetchedManifest {
  readonly digest: string;
  readonly size: number;
  /** The document's own `mediaType`, else the registry's Content-Type, else what its shape says. */
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly document: ManifestDocument;
}

export interface FetchOptions {
  readonly signal?: AbortSignal | undefined;
}

export interface BlobFetchOptions extends FetchOptions {
  /** Called with each chunk's length as it is written: progress. */
  readonly onBytes?: ((bytes: number) => void) | undefined;
}

/** Fetches content by digest, verified, through the same endpoints, credentials and TLS as `resolve`. */
export interface ContentFetcher {
  /**
   * The manifest or index `digest` names, verified against it (and against `size` when the
   * parent's descriptor gave one) and parsed.
   */
  fetchManifest(
    reference: ImageReference,
    content: { readonly digest: string; readonly size?: number | undefined },
    options?: FetchOptions,
  ): Promise<FetchedManifest>;
  /**
   * Streams the blob into `sink`, hashing and counting as it goes: more bytes than `size` stop
   * the stream at once; a wrong digest or a short body fails before `sink` is ended. Registries'
   * redirects to storage are followed (without the registry's credentials on another origin).
   * On failure `sink` is destroyed and what it holds is not the blob.
   */
  fetchBlob(
    reference: ImageReference,
    blob: ContentDescriptor,
    sink: Writable,
    options?: BlobFetchOptions,
  ): Promise<void>;
}

const SHA256 = /^sha256:[a-f0-9]{64}$/;

function requireSha256(digest: string, name: string): void {
  if (!SHA256.test(digest))
    throw new ClassifiedError("invalid", `${name}@${digest}: only sha256 content can be verified`);
}

function shapeMediaType(document: ManifestDocument): string {
  return isIndex(document)
    ? "application/vnd.oci.image.index.v1+json"
    : "application/vnd.oci.image.manifest.v1+json";
}

export function createContentFetcher(requests: RegistryRequests): ContentFetcher {
  const { auth } = requests;
  return {
    async fetchManifest(reference, content, options = {}) {
      const target = requests.target(reference);
      const what = `${repositoryName(reference)}@${content.digest}`;
      requireSha256(content.digest, target.name);
      const limit = Math.min(content.size ?? MANIFEST_BODY_LIMIT, MANIFEST_BODY_LIMIT);
      return requests.acrossEndpoints(target, "pull", options.signal, async (endpoint) => {
        const subject = requests.subjectOf(endpoint, target, what);
        const answer = await auth.send(
          {
            method: "GET",
            url: manifestUrl(endpoint, reference, content.digest),
            accept: MANIFEST_ACCEPT,
            tls: tlsOf(endpoint),
            bodyLimit: limit,
            subject,
            signal: options.signal,
          },
          target,
        );
        if (answer.status !== 200) throw requests.fail(answer, endpoint, target, what);
        const { body } = answer;
        if (content.size !== undefined && body.length !== content.size) {
          throw new ClassifiedError(
            "invalid",
            `${subject}: ${body.length} bytes, not the ${content.size} its descriptor says`,
          );
        }
        verifyDigest(body, content.digest, subject);
        const document = parseManifestDocument(body, subject);
        const mediaType = document.mediaType ?? header(answer, "content-type") ?? shapeMediaType(document);
        return { digest: content.digest, size: body.length, mediaType, bytes: body, document };
      });
    },

    async fetchBlob(reference, blob, sink, options = {}) {
      const target = requests.target(reference);
      const what = `${repositoryName(reference)}@${blob.digest}`;
      requireSha256(blob.digest, target.name);
      // Endpoints are tried in turn until one answers 200; no byte reaches the sink before that.
      const opened = await requests.acrossEndpoints(target, "pull", options.signal, async (endpoint) => {
        const subject = requests.subjectOf(endpoint, target, what);
        const answer = await auth.open(
          {
            method: "GET",
            url: blobUrl(endpoint, reference, blob.digest),
            accept: "*/*",
            tls: tlsOf(endpoint),
            bodyLimit: blob.size,
            subject,
            signal: options.signal,
          },
          target,
        );
        if (answer.status !== 200 || answer.stream === undefined) {
          answer.stream?.destroy();
          throw requests.fail(answer, endpoint, target, what);
        }
        return { stream: answer.stream, subject };
      });
      try {
        await pipeline(
          opened.stream,
          verifyingStream(blob, opened.subject, options.onBytes),
          sink,
          options.signal ? { signal: options.signal } : {},
        );
      } catch (error) {
        if (isClassifiedError(error) || options.signal?.aborted) throw error;
        // The sink's own failures (a full disk) are the caller's to name; the rest is the link's.
        if (sink.errored === error) throw error;
        throw classifyTransport(error, opened.subject, requests.transport.timeoutMs);
      }
    },
  };
}
