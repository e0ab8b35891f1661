import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { rootCertificates } from "node:tls";
import type { Dispatcher } from "undici";
import { ClassifiedError } from "../failure/index.ts";

type Undici = typeof import("undici");

let undici: Promise<Undici> | undefined;

/**
 * undici (about a hundred modules, several MB resident) loads with the first request: an agent
 * whose images are all present and locked may never ask a registry anything.
 */
function loadUndici(): Promise<Undici> {
  undici ??= import("undici");
  return undici;
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** An answer whose 2xx body is left unread, for the caller to stream (a blob). */
export interface StreamAnswer extends Answer {
  /** The body of a 2xx answer to a GET; other answers have theirs read into `body`. */
  readonly stream: Readable | undefined;
}

/** How to reach an endpoint over TLS. */
export interface TlsProfile {
  readonly caFiles: readonly string[];
  readonly skipVerify: boolean;
}

export interface SendOptions {
  readonly method: "HEAD" | "GET";
  readonly headers: Record<string, string>;
  readonly tls: TlsProfile;
  /** Largest body accepted with a 2xx answer; a larger declared length fails as `invalid`. */
  readonly bodyLimit: number;
  /** Other answers keep this much of their body, enough for an error document. */
  readonly errorBodyLimit: number;
  /** Names the request in errors; must not hold secrets. */
  readonly subject: string;
  readonly signal?: AbortSignal | undefined;
}

const MAX_REDIRECTIONS = 5;
/** Longest `Retry-After` honoured; a longer one is cut to this. */
const RETRY_AFTER_CAP_MS = 60_000;
/** A dropped connection is worth another try; a refused one is not (the next endpoint is). */
const RETRIED_ERROR_CODES = ["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"];

export function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(
  body: Dispatcher.ResponseData["body"],
  limit: number,
  onOverflow: "fail" | "truncate",
  subject: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const room = limit - total;
    if (chunk.length > room) {
      // Leaving the loop early destroys the stream (and its connection) through the iterator.
      if (onOverflow === "fail")
        throw new ClassifiedError("invalid", `${subject}: the answer is larger than ${limit} bytes`);
      chunks.push(chunk.subarray(0, room));
      break;
    }
    chunks.push(chunk);
    total += chunk.length;
  }
  return Buffer.concat(chunks);
}

/**
 * HTTP to registries through undici: one connection pool per TLS profile, undici's own retry
 * (429/5xx with `Retry-After`, dropped connections) and redirect interceptors. undici's redirect
 * handler drops `Authorization` when a redirect leaves the origin, so credentials never follow a
 * registry to another host.
 */
export class Transport {
  readonly #agents = new Map<string, Dispatcher>();
  readonly #timeoutMs: number;
  readonly #maxRetries: number;

  constructor(options: { timeoutMs: number; maxRetries: number }) {
    this.#timeoutMs = options.timeoutMs;
    this.#maxRetries = options.maxRetries;
  }

  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  // Profiles come from configuration (hosts.toml, flags), so this map is as bounded as the config.
  async #dispatcher(tls: TlsProfile): Promise<Dispatcher> {
    const { Agent, interceptors } = await loadUndici();
    const key = `${tls.caFiles.join("\n")}|${String(tls.skipVerify)}`;
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      const ca = tls.caFiles.map((file) => readFileSync(file, "utf8"));
      agent = new Agent({
        keepAliveTimeout: 30_000,
        connections: 32,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        connect: {
          // As containerd does, a configured CA is trusted besides the system's, not instead of
          // them: a registry on a private CA may redirect blobs to storage on a public one.
          ...(ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
          rejectUnauthorized: !tls.skipVerify,
          timeout: this.#timeoutMs,
        },
      }).compose(
        interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }),
        interceptors.retry({
          maxRetries: this.#maxRetries,
          minTimeout: 250,
          maxTimeout: RETRY_AFTER_CAP_MS,
          timeoutFactor: 2,
          methods: ["GET", "HEAD"],
          statusCodes: [429, 500, 502, 503, 504],
          errorCodes: RETRIED_ERROR_CODES,
          // The last answer is classified by the caller (429 → rate_limited, 5xx → network).
          throwOnError: false,
        }),
      );
      this.#agents.set(key, agent);
    }
    return agent;
  }

  async #request(url: string, options: SendOptions): Promise<Dispatcher.ResponseData> {
    const dispatcher = await this.#dispatcher(options.tls);
    const { request } = await loadUndici();
    const response = await request(url, {
      method: options.method,
      headers: options.headers,
      // undici closes the connection after a HEAD unless told the server frames it properly;
      // registries do, and a resolve is nearly all HEADs.
      reset: false,
      signal: options.signal,
      dispatcher,
    });
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    const declared = Number(response.headers["content-length"]);
    if (ok && Number.isFinite(declared) && declared > options.bodyLimit) {
      await response.body.dump({ limit: 1 });
      throw new ClassifiedError(
        "invalid",
        `${options.subject}: the answer is larger than ${options.bodyLimit} bytes`,
      );
    }
    return response;
  }

  async send(url: string, options: SendOptions): Promise<Answer> {
    const response = await this.#request(url, options);
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    const body =
      options.method === "HEAD"
        ? (await response.body.dump(), Buffer.alloc(0))
        : await readBody(
            response.body,
            ok ? options.bodyLimit : options.errorBodyLimit,
            ok ? "fail" : "truncate",
            options.subject,
          );
    return { status: response.statusCode, headers: response.headers, body };
  }

  /**
   * Like `send`, but a 2xx answer to a GET keeps its body as a stream, unread: the caller reads
   * it (and must bound it: only a declared length over `bodyLimit` is refused here).
   */
  async open(url: string, options: SendOptions): Promise<StreamAnswer> {
    const response = await this.#request(url, options);
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    if (ok && options.method === "GET") {
      return {
        status: response.statusCode,
        headers: response.headers,
        body: Buffer.alloc(0),
        stream: response.body,
      };
    }
    const body =
      options.method === "HEAD"
        ? (await response.body.dump(), Buffer.alloc(0))
        : await readBody(response.body, options.errorBodyLimit, "truncate", options.subject);
    return { status: response.statusCode, headers: response.headers, body, stream: undefined };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((agent) => agent.close()));
    this.#agents.clear();
  }
}
