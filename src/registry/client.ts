import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, request, type Dispatcher } from "undici";
import { ClassifiedError, isClassifiedError, type FailureKind } from "../failure/index.ts";
import {
  formatReference,
  isLoopbackRegistry,
  manifestReference,
  registryApiHost,
  type ImageReference,
} from "../reference/index.ts";
import { parseChallenge, type Challenge } from "./challenge.ts";
import type { RegistryEndpoint, RegistryHosts } from "./hosts.ts";
import { CredentialKeyring, type RegistryCredential } from "./keyring.ts";

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface ResolvedImage {
  /** Top-level digest, the one the runtime records after a pull. */
  readonly digest: string;
  readonly mediaType: string;
  readonly platforms: Platform[] | undefined;
  /** Config plus layer bytes of the manifest this node's platform pulls, when asked for. */
  readonly platformSize: number | undefined;
}

export interface RegistryLogger {
  debug(object: object, message?: string): void;
  warn(object: object, message?: string): void;
}

export interface RegistryClientOptions {
  readonly keyring?: CredentialKeyring;
  readonly hosts?: RegistryHosts;
  /** Registry domain → mirror URLs tried before it. */
  readonly mirrors?: Readonly<Record<string, readonly string[]>>;
  /** Registry hosts that may be reached over plain HTTP or without TLS verification. */
  readonly insecure?: readonly string[];
  readonly platform?: Platform;
  readonly requestTimeoutMs?: number;
  readonly maxRetries?: number;
  readonly logger?: RegistryLogger;
}

export interface ResolveOptions {
  readonly signal?: AbortSignal;
  /** Also fetch the platform manifest to learn what a pull will download. */
  readonly withSize?: boolean;
}

export interface RegistryClient {
  resolve(reference: ImageReference, options?: ResolveOptions): Promise<ResolvedImage>;
  close(): Promise<void>;
}

const INDEX_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_ACCEPT = [
  ...INDEX_TYPES,
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "EPROTO",
]);
const RETRY_AFTER_CAP_MS = 60_000;
/** A dropped connection is worth another try; a refused one is not. */
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);

export function nodePlatform(): Platform {
  const byNodeArch: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
  };
  return { os: "linux", architecture: byNodeArch[process.arch] ?? process.arch };
}

interface Target {
  readonly reference: ImageReference;
  readonly credentials: readonly RegistryCredential[];
  readonly scope: string;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function registryErrorText(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as {
      errors?: Array<{ code?: string; message?: string }>;
    };
    const first = parsed.errors?.[0];
    if (first) return `${first.code ?? ""}${first.message ? `: ${first.message}` : ""}`;
  } catch {
    // not a registry error document
  }
  return "";
}

function retryAfterMs(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Math.min(RETRY_AFTER_CAP_MS, Math.max(0, Number.isFinite(ms) ? ms : fallback));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Resolves references to digests the way the runtime will, with its credentials and mirrors. */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const keyring = options.keyring ?? CredentialKeyring.empty();
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const maxRetries = options.maxRetries ?? 3;
  const platform = options.platform ?? nodePlatform();
  const insecure = new Set(options.insecure ?? []);
  const agents = new Map<string, Agent>();
  const tokens = new Map<string, { token: string; expiresAt: number }>();
  const basicHosts = new Map<string, RegistryCredential>();
  const manifests = new Map<string, Buffer>();

  function dispatcherFor(endpoint: RegistryEndpoint): Dispatcher {
    const key = `${endpoint.url}|${endpoint.caFiles.join(",")}|${String(endpoint.skipVerify)}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      const host = new URL(endpoint.url).host;
      const ca = endpoint.caFiles.map((file) => readFileSync(file, "utf8"));
      agent = new Agent({
        keepAliveTimeout: 30_000,
        connections: 32,
        connect: {
          ...(ca.length > 0 ? { ca } : {}),
          rejectUnauthorized: !(endpoint.skipVerify || insecure.has(host)),
        },
      });
      agents.set(key, agent);
    }
    return agent;
  }

  function endpointsFor(domain: string): RegistryEndpoint[] {
    const explicit: RegistryEndpoint[] = (options.mirrors?.[domain] ?? []).map((url) => ({
      url: url.replace(/\/+$/, ""),
      capabilities: ["pull", "resolve"],
      caFiles: [],
      skipVerify: false,
      mirror: true,
    }));
    const configured = options.hosts?.forHost(domain)?.endpoints ?? [];
    const apiHost = registryApiHost({ domain, path: "", tag: undefined, digest: undefined });
    const plain = isLoopbackRegistry(domain) || insecure.has(domain);
    const hasServer = configured.some((endpoint) => !endpoint.mirror);
    const fallback: RegistryEndpoint[] = hasServer
      ? []
      : [
          {
            url: `${plain ? "http" : "https"}://${apiHost}`,
            capabilities: ["pull", "resolve"],
            caFiles: [],
            skipVerify: false,
            mirror: false,
          },
        ];
    return [...explicit, ...configured, ...fallback].filter((endpoint) =>
      endpoint.capabilities.includes("resolve"),
    );
  }

  async function fetchToken(
    challenge: Challenge,
    target: Target,
    credential: RegistryCredential | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    const realm = challenge.params.realm;
    if (realm === undefined)
      throw new ClassifiedError(
        "auth",
        `registry for ${formatReference(target.reference)} sent a Bearer challenge without a realm`,
      );
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    url.searchParams.set("scope", challenge.params.scope ?? target.scope);
    const cacheKey = `${url.toString()}|${credential?.source ?? ""}|${credential?.username ?? ""}`;
    const cached = tokens.get(cacheKey);
    if (cached !== undefined && cached.expiresAt > Date.now()) return cached.token;
    const headers: Record<string, string> = {};
    if (credential?.identityToken) {
      // An identity token is a refresh token for the OAuth2 flow; sending it as Basic is what registries accept most widely.
      headers.authorization = `Basic ${Buffer.from(`<token>:${credential.identityToken}`).toString("base64")}`;
    } else if (credential !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}`;
    }
    const response = await request(url, {
      headers,
      signal,
      dispatcher: dispatcherFor({
        url: url.origin,
        capabilities: [],
        caFiles: [],
        skipVerify: false,
        mirror: false,
      }),
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    if (response.statusCode === 401 || response.statusCode === 403) {
      throw new ClassifiedError(
        "auth",
        `token service ${url.host} refused ${credential ? `the credentials from ${credential.source}` : "an anonymous token"} for ${formatReference(target.reference)}`,
      );
    }
    if (response.statusCode !== 200) {
      throw new ClassifiedError(
        response.statusCode >= 500 ? "network" : "auth",
        `token service ${url.host} answered ${response.statusCode} for ${formatReference(target.reference)}`,
      );
    }
    const parsed = JSON.parse(body.toString("utf8")) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
    };
    const token = parsed.token ?? parsed.access_token;
    if (token === undefined) throw new ClassifiedError("auth", `token service ${url.host} returned no token`);
    // Renew a little early so a token never expires in flight.
    const lifetime = Math.max(1, parsed.expires_in ?? 60) * 1000;
    tokens.set(cacheKey, { token, expiresAt: Date.now() + lifetime * 0.9 });
    return token;
  }

  /** One request with authentication, bounded retries, redirects and a deadline. */
  async function send(
    method: "HEAD" | "GET",
    endpoint: RegistryEndpoint,
    url: string,
    target: Target,
    callerSignal: AbortSignal | undefined,
  ): Promise<Answer> {
    const origin = new URL(url).origin;
    let authorization: string | undefined;
    const basic = basicHosts.get(origin);
    if (basic !== undefined)
      authorization = `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString("base64")}`;
    const remainingCredentials = [...target.credentials];
    let credential: RegistryCredential | undefined;
    let authenticated = false;
    let attempt = 0;
    let currentUrl = url;
    for (;;) {
      const signal = callerSignal
        ? AbortSignal.any([callerSignal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs);
      let answer: Answer;
      try {
        const sameOrigin = new URL(currentUrl).origin === origin;
        const response = await request(currentUrl, {
          method,
          headers: { accept: MANIFEST_ACCEPT, ...(authorization && sameOrigin ? { authorization } : {}) },
          // undici closes the connection after a HEAD unless told the server frames it properly;
          // registries do, and a resolve is nearly all HEADs.
          reset: false,
          signal,
          dispatcher: dispatcherFor(endpoint),
        });
        answer = {
          status: response.statusCode,
          headers: response.headers,
          body: Buffer.from(await response.body.arrayBuffer()),
        };
      } catch (error) {
        if (callerSignal?.aborted) throw callerSignal.reason as Error;
        const failure = classifyTransport(error, endpoint, target);
        if (failure.kind === "network" && RESET_CODES.has(errorCode(error) ?? "") && attempt < maxRetries) {
          attempt += 1;
          await sleep(200 * 2 ** attempt, callerSignal);
          continue;
        }
        throw failure;
      }
      if ([301, 302, 303, 307, 308].includes(answer.status)) {
        const location = header(answer, "location");
        if (location === undefined || attempt >= maxRetries + 5)
          throw new ClassifiedError("network", `${endpoint.url} redirected without a usable location`);
        // Authorization is never sent to another host (see `sameOrigin` above).
        currentUrl = new URL(location, currentUrl).toString();
        attempt += 1;
        continue;
      }
      if (answer.status === 401 && !authenticated) {
        const challenge = parseChallenge(header(answer, "www-authenticate"));
        credential = remainingCredentials.shift();
        if (challenge?.scheme === "bearer") {
          authorization = `Bearer ${await fetchToken(challenge, target, credential, signal)}`;
        } else if (challenge?.scheme === "basic" && credential !== undefined) {
          authorization = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}`;
          basicHosts.set(origin, credential);
        } else {
          return answer;
        }
        authenticated = remainingCredentials.length === 0;
        continue;
      }
      if ((answer.status === 429 || answer.status >= 500) && attempt < maxRetries) {
        attempt += 1;
        const delay = retryAfterMs(header(answer, "retry-after"), 250 * 2 ** attempt);
        options.logger?.debug(
          { url: currentUrl, status: answer.status, retryInMs: delay },
          "registry asked to retry",
        );
        await sleep(delay, callerSignal);
        continue;
      }
      return answer;
    }
  }

  function classifyTransport(error: unknown, endpoint: RegistryEndpoint, target: Target): ClassifiedError {
    if (isClassifiedError(error)) return error;
    const code = errorCode(error);
    const name = (error as { name?: string } | null)?.name;
    const subject = `${formatReference(target.reference)} at ${endpoint.url}`;
    if (
      name === "TimeoutError" ||
      code === "UND_ERR_HEADERS_TIMEOUT" ||
      code === "UND_ERR_BODY_TIMEOUT" ||
      code === "UND_ERR_CONNECT_TIMEOUT"
    ) {
      return new ClassifiedError("timeout", `${subject}: no answer within ${timeoutMs / 1000}s`);
    }
    if (
      code !== undefined &&
      (TLS_CODES.has(code) || code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL"))
    ) {
      return new ClassifiedError(
        "tls",
        `${subject}: TLS verification failed (${code}); give the registry's CA in hosts.toml (ca = …)`,
      );
    }
    return new ClassifiedError(
      "network",
      `${subject}: ${code ?? (error instanceof Error ? error.message : String(error))}`,
    );
  }

  function failure(answer: Answer, endpoint: RegistryEndpoint, target: Target): ClassifiedError {
    const detail = registryErrorText(answer.body);
    const subject = `${formatReference(target.reference)} at ${endpoint.url}`;
    const suffix = detail ? ` (${detail})` : "";
    let kind: FailureKind;
    let text: string;
    if (answer.status === 404) {
      kind = "not_found";
      text = `${subject}: not found${suffix}`;
    } else if (answer.status === 401 || answer.status === 403) {
      kind = "auth";
      const sources = [...new Set(target.credentials.map((c) => c.source))];
      text = `${subject}: registry answered ${answer.status}${suffix}; ${sources.length > 0 ? `check the credentials in ${sources.join(", ")}` : "no credentials match this registry"}`;
    } else if (answer.status === 429) {
      kind = "rate_limited";
      text = `${subject}: rate limited (429) after ${maxRetries} retries${suffix}`;
    } else if (answer.status >= 500) {
      kind = "network";
      text = `${subject}: registry answered ${answer.status} after ${maxRetries} retries${suffix}`;
    } else {
      kind = "invalid";
      text = `${subject}: unexpected answer ${answer.status}${suffix}`;
    }
    return new ClassifiedError(kind, text);
  }

  async function manifestAt(
    endpoint: RegistryEndpoint,
    target: Target,
    reference: string,
    signal: AbortSignal | undefined,
  ): Promise<{ bytes: Buffer; mediaType: string }> {
    const url = manifestUrl(endpoint, target.reference, reference);
    const answer = await send("GET", endpoint, url, target, signal);
    if (answer.status !== 200) throw failure(answer, endpoint, target);
    return { bytes: answer.body, mediaType: header(answer, "content-type") ?? "" };
  }

  async function platformSize(
    endpoint: RegistryEndpoint,
    target: Target,
    digest: string,
    signal: AbortSignal | undefined,
  ): Promise<{ size: number; platforms: Platform[] | undefined }> {
    const cached = manifests.get(digest);
    const top = cached ? { bytes: cached } : await manifestAt(endpoint, target, digest, signal);
    manifests.set(digest, top.bytes);
    const document = JSON.parse(top.bytes.toString("utf8")) as {
      manifests?: Array<{ digest: string; platform?: Platform }>;
      config?: { size: number };
      layers?: Array<{ size: number }>;
    };
    if (document.manifests === undefined) {
      return {
        size: (document.config?.size ?? 0) + (document.layers ?? []).reduce((sum, l) => sum + l.size, 0),
        platforms: undefined,
      };
    }
    const platforms = document.manifests.flatMap((m) => (m.platform ? [m.platform] : []));
    const match = document.manifests.find(
      (m) =>
        m.platform?.os === platform.os &&
        m.platform.architecture === platform.architecture &&
        (platform.variant === undefined || m.platform.variant === platform.variant),
    );
    if (match === undefined) {
      throw new ClassifiedError(
        "not_found",
        `${formatReference(target.reference)} has no manifest for ${platform.os}/${platform.architecture}`,
      );
    }
    const inner = await platformSize(endpoint, target, match.digest, signal);
    return { size: inner.size, platforms };
  }

  async function resolveAt(
    endpoint: RegistryEndpoint,
    target: Target,
    resolveOptions: ResolveOptions,
  ): Promise<ResolvedImage> {
    const { reference } = target;
    const ref = manifestReference(reference);
    const head = await send(
      "HEAD",
      endpoint,
      manifestUrl(endpoint, reference, ref),
      target,
      resolveOptions.signal,
    );
    let digest = head.status === 200 ? header(head, "docker-content-digest") : undefined;
    let mediaType = header(head, "content-type") ?? "";
    if (head.status !== 200 && head.status !== 405) throw failure(head, endpoint, target);
    if (digest === undefined) {
      const got = await manifestAt(endpoint, target, ref, resolveOptions.signal);
      digest = reference.digest ?? sha256(got.bytes);
      mediaType = got.mediaType;
      manifests.set(digest, got.bytes);
    }
    if (!resolveOptions.withSize) {
      return { digest, mediaType, platforms: undefined, platformSize: undefined };
    }
    const sized = await platformSize(endpoint, target, digest, resolveOptions.signal);
    return { digest, mediaType, platforms: sized.platforms, platformSize: sized.size };
  }

  return {
    async resolve(reference, resolveOptions = {}) {
      const target: Target = {
        reference,
        credentials: keyring.lookup(reference),
        scope: `repository:${reference.path}:pull`,
      };
      const endpoints = endpointsFor(reference.domain);
      let last: ClassifiedError | undefined;
      for (const endpoint of endpoints) {
        try {
          return await resolveAt(endpoint, target, resolveOptions);
        } catch (error) {
          if (resolveOptions.signal?.aborted) throw error;
          const classified = isClassifiedError(error) ? error : classifyTransport(error, endpoint, target);
          last = classified;
          // The next endpoint may work if this one is unreachable or failing; not if the image is missing or forbidden.
          const tryNext = endpoint.mirror || ["network", "timeout", "tls"].includes(classified.kind);
          if (!tryNext) throw classified;
          options.logger?.warn(
            { endpoint: endpoint.url, kind: classified.kind },
            "registry endpoint failed; trying the next",
          );
        }
      }
      throw (
        last ??
        new ClassifiedError("invalid", `no registry endpoint can resolve ${formatReference(reference)}`)
      );
    },
    async close() {
      await Promise.all([...agents.values()].map((agent) => agent.close()));
      agents.clear();
    },
  };
}

function manifestUrl(endpoint: RegistryEndpoint, reference: ImageReference, ref: string): string {
  const ns = endpoint.mirror ? `?ns=${encodeURIComponent(reference.domain)}` : "";
  return `${endpoint.url}/v2/${reference.path}/manifests/${ref}${ns}`;
}
