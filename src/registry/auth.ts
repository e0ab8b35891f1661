import { ClassifiedError, redactUrl } from "../failure/index.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { parseChallenge, type Challenge } from "./challenge.ts";
import { ERROR_BODY_LIMIT, parseTokenAnswer, TOKEN_BODY_LIMIT } from "./documents.ts";
import type { RegistryCredential } from "./keyring.ts";
import {
  header,
  type Answer,
  type SendOptions,
  type StreamAnswer,
  type TlsProfile,
  type Transport,
} from "./transport.ts";

/** Distinct (realm, scope, credential) tokens kept; a node resolves a few hundred repositories. */
const TOKEN_CACHE_ENTRIES = 1024;
const BASIC_CACHE_ENTRIES = 256;
/** Renew a little early so a token never expires in flight. */
const TOKEN_LIFETIME_USED = 0.9;

export interface AuthTarget {
  /** The image, for messages. */
  readonly name: string;
  /** Credentials to try, most specific first. */
  readonly credentials: readonly RegistryCredential[];
  /** `repository:<path>:pull`, unless the challenge names its own. */
  readonly scope: string;
}

export interface AuthorizedRequest {
  readonly method: "HEAD" | "GET";
  readonly url: string;
  readonly accept: string;
  /** A `Range` header: part of a blob (a gzip trailer). */
  readonly range?: string | undefined;
  readonly tls: TlsProfile;
  readonly bodyLimit: number;
  readonly subject: string;
  readonly signal?: AbortSignal | undefined;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

function credentialHeader(credential: RegistryCredential): string {
  // An identity token is a refresh token for the OAuth2 flow; sending it as Basic is what registries accept most widely.
  return credential.identityToken
    ? basic("<token>", credential.identityToken)
    : basic(credential.username, credential.password);
}

/**
 * Answers registry challenges: Bearer tokens from the realm (cached until shortly before they
 * expire) and Basic credentials (remembered per origin, so later requests skip the 401).
 */
export class RegistryAuth {
  readonly #transport: Transport;
  readonly #tokens = new BoundedCache<string, string>({ maxEntries: TOKEN_CACHE_ENTRIES });
  readonly #basicByOrigin = new BoundedCache<string, RegistryCredential>({
    maxEntries: BASIC_CACHE_ENTRIES,
  });

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** One request, answering at most one round of challenges per credential. */
  send(request: AuthorizedRequest, target: AuthTarget): Promise<Answer> {
    return this.#authorized(request, target, (url, options) => this.#transport.send(url, options));
  }

  /** The same, leaving a 2xx body unread for the caller to stream (see `Transport.open`). */
  open(request: AuthorizedRequest, target: AuthTarget): Promise<StreamAnswer> {
    return this.#authorized(request, target, (url, options) => this.#transport.open(url, options));
  }

  async #authorized<A extends Answer>(
    request: AuthorizedRequest,
    target: AuthTarget,
    perform: (url: string, options: SendOptions) => Promise<A>,
  ): Promise<A> {
    const origin = new URL(request.url).origin;
    const remembered = this.#basicByOrigin.get(origin);
    let authorization = remembered && credentialHeader(remembered);
    const remaining = [...target.credentials];
    // Set once the last credential (or an anonymous token) has been tried.
    let exhausted = false;
    for (;;) {
      const answer = await perform(request.url, {
        method: request.method,
        headers: {
          accept: request.accept,
          ...(request.range ? { range: request.range } : {}),
          ...(authorization ? { authorization } : {}),
        },
        tls: request.tls,
        bodyLimit: request.bodyLimit,
        errorBodyLimit: ERROR_BODY_LIMIT,
        subject: request.subject,
        signal: request.signal,
      });
      if (answer.status !== 401 || exhausted) return answer;
      const challenge = parseChallenge(header(answer, "www-authenticate"));
      const credential = remaining.shift();
      if (challenge?.scheme === "bearer") {
        authorization = `Bearer ${await this.#token(challenge, target, credential, request)}`;
      } else if (challenge?.scheme === "basic" && credential !== undefined) {
        authorization = credentialHeader(credential);
        this.#basicByOrigin.set(origin, credential);
      } else {
        return answer;
      }
      exhausted = remaining.length === 0;
    }
  }

  async #token(
    challenge: Challenge,
    target: AuthTarget,
    credential: RegistryCredential | undefined,
    request: AuthorizedRequest,
  ): Promise<string> {
    const realm = challenge.params.realm;
    if (realm === undefined)
      throw new ClassifiedError(
        "auth",
        `registry for ${target.name} sent a Bearer challenge without a realm`,
      );
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new ClassifiedError("auth", `registry for ${target.name} sent a Bearer realm that is not a URL`);
    }
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    url.searchParams.set("scope", challenge.params.scope ?? target.scope);
    const cacheKey = `${url.toString()}|${credential?.source ?? ""}|${credential?.username ?? ""}`;
    const cached = this.#tokens.get(cacheKey);
    if (cached !== undefined) return cached;
    const service = `token service ${redactUrl(url.origin)}`;
    // A realm on the registry's own origin is reached with the registry's TLS settings.
    const sameOrigin = url.origin === new URL(request.url).origin;
    const answer = await this.#transport.send(url.toString(), {
      method: "GET",
      headers: credential ? { authorization: credentialHeader(credential) } : {},
      tls: sameOrigin ? request.tls : { caFiles: [], skipVerify: false },
      bodyLimit: TOKEN_BODY_LIMIT,
      errorBodyLimit: ERROR_BODY_LIMIT,
      subject: service,
      signal: request.signal,
    });
    if (answer.status === 401 || answer.status === 403) {
      throw new ClassifiedError(
        "auth",
        `${service} refused ${credential ? `the credentials from ${credential.source}` : "an anonymous token"} for ${target.name}`,
      );
    }
    if (answer.status !== 200) {
      throw new ClassifiedError(
        answer.status >= 500 || answer.status === 429 ? "network" : "auth",
        `${service} answered ${answer.status} for ${target.name}`,
      );
    }
    const { token, expiresInS } = parseTokenAnswer(answer.body, service);
    this.#tokens.set(cacheKey, token, { ttlMs: expiresInS * 1000 * TOKEN_LIFETIME_USED });
    return token;
  }
}
