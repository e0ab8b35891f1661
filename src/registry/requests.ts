import { ClassifiedError, isClassifiedError } from "../failure/index.ts";
import { formatReference, type ImageReference } from "../reference/index.ts";
import { RegistryAuth, type AuthTarget } from "./auth.ts";
import { planEndpoints, type EndpointCapability, type EndpointConfig } from "./endpoints.ts";
import { classifyTransport, failureFromAnswer } from "./errors.ts";
import type { RegistryEndpoint } from "./hosts.ts";
import type { CredentialKeyring } from "./keyring.ts";
import { Transport, type Answer } from "./transport.ts";

export interface RegistryLogger {
  warn(object: object, message?: string): void;
}

/** One image at one registry: its name for messages, the credentials to try, the token scope. */
export interface Target extends AuthTarget {
  readonly reference: ImageReference;
}

export interface RequestsOptions extends EndpointConfig {
  readonly keyring: CredentialKeyring;
  readonly requestTimeoutMs: number;
  readonly maxRetries: number;
  readonly logger?: RegistryLogger | undefined;
}

/**
 * What every registry request shares: the transport and its connection pools, the auth cache,
 * the endpoints (mirrors first) and the classification of what goes wrong.
 */
export class RegistryRequests {
  readonly transport: Transport;
  readonly auth: RegistryAuth;
  readonly maxRetries: number;
  readonly #options: RequestsOptions;
  readonly #endpointsFor: ReturnType<typeof planEndpoints>;

  constructor(options: RequestsOptions) {
    this.#options = options;
    this.maxRetries = options.maxRetries;
    this.transport = new Transport({ timeoutMs: options.requestTimeoutMs, maxRetries: options.maxRetries });
    this.auth = new RegistryAuth(this.transport);
    this.#endpointsFor = planEndpoints(options);
  }

  target(reference: ImageReference): Target {
    return {
      reference,
      name: formatReference(reference),
      credentials: this.#options.keyring.lookup(reference),
      scope: `repository:${reference.path}:pull`,
    };
  }

  subjectOf(endpoint: RegistryEndpoint, target: Target, what = target.name): string {
    return `${what} at ${endpoint.url}`;
  }

  fail(answer: Answer, endpoint: RegistryEndpoint, target: Target, what = target.name): ClassifiedError {
    return failureFromAnswer(answer.status, answer.body, {
      subject: this.subjectOf(endpoint, target, what),
      credentialSources: target.credentials.map((credential) => credential.source),
      maxRetries: this.maxRetries,
    });
  }

  /**
   * Tries `attempt` on each endpoint with the capability, in order, until one answers. The next
   * endpoint is tried after a mirror's failure, or when this one is unreachable; not when the
   * registry itself says the image is missing or forbidden.
   */
  async acrossEndpoints<T>(
    target: Target,
    capability: EndpointCapability,
    signal: AbortSignal | undefined,
    attempt: (endpoint: RegistryEndpoint) => Promise<T>,
  ): Promise<T> {
    let last: ClassifiedError | undefined;
    for (const endpoint of this.#endpointsFor(target.reference.domain, capability)) {
      try {
        return await attempt(endpoint);
      } catch (error) {
        if (signal?.aborted) throw error;
        const classified = isClassifiedError(error)
          ? error
          : classifyTransport(error, this.subjectOf(endpoint, target), this.transport.timeoutMs);
        last = classified;
        const tryNext = endpoint.mirror || ["network", "timeout", "tls"].includes(classified.kind);
        if (!tryNext) throw classified;
        this.#options.logger?.warn(
          { endpoint: endpoint.url, kind: classified.kind },
          "registry endpoint failed; trying the next",
        );
      }
    }
    throw last ?? new ClassifiedError("invalid", `no registry endpoint can ${capability} ${target.name}`);
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
