import { ClassifiedError, isClassifiedError, redactUrl, type FailureKind } from "../failure/index.ts";
import { registryErrorText } from "./documents.ts";

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
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"]);

export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A failure to get any answer: `subject` names the image and the endpoint (already redacted). */
export function classifyTransport(error: unknown, subject: string, timeoutMs: number): ClassifiedError {
  if (isClassifiedError(error)) return error;
  const code = errorCode(error);
  const name = (error as { name?: string } | null)?.name;
  if (name === "TimeoutError" || (code !== undefined && TIMEOUT_CODES.has(code))) {
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
  // Node's own messages can quote the URL it tried; prefer the code.
  const detail = code ?? (error instanceof Error ? redactUrl(error.message) : "request failed");
  return new ClassifiedError("network", `${subject}: ${detail}`);
}

export interface AnswerContext {
  /** `<reference> at <endpoint>`, already redacted. */
  readonly subject: string;
  /** Files the tried credentials came from; never secret. */
  readonly credentialSources: readonly string[];
  readonly maxRetries: number;
}

/** The classified error for a registry answer that is not the one asked for. */
export function failureFromAnswer(status: number, body: Buffer, context: AnswerContext): ClassifiedError {
  const detail = registryErrorText(body);
  const { subject } = context;
  const suffix = detail ? ` (${detail})` : "";
  let kind: FailureKind;
  let text: string;
  if (status === 404) {
    kind = "not_found";
    text = `${subject}: not found${suffix}`;
  } else if (status === 401 || status === 403) {
    kind = "auth";
    const sources = [...new Set(context.credentialSources)];
    text = `${subject}: registry answered ${status}${suffix}; ${sources.length > 0 ? `check the credentials in ${sources.join(", ")}` : "no credentials match this registry"}`;
  } else if (status === 429) {
    kind = "rate_limited";
    text = `${subject}: rate limited (429) after ${context.maxRetries} retries${suffix}`;
  } else if (status >= 500) {
    kind = "network";
    text = `${subject}: registry answered ${status} after ${context.maxRetries} retries${suffix}`;
  } else {
    kind = "invalid";
    text = `${subject}: unexpected answer ${status}${suffix}`;
  }
  return new ClassifiedError(kind, text);
}
