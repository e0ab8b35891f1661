/**
 * Why an operation on an image failed, in words an operator can act on. Every adapter (CRI,
 * registry, disk guard) classifies its errors into one of these so that retries, status and
 * metrics speak one language.
 */
export const FAILURE_KINDS = [
  "not_found",
  "auth",
  "network",
  "tls",
  "timeout",
  "rate_limited",
  "invalid",
  "unavailable",
  "disk",
  "runtime",
  // The runtime cannot do this at all (an OCI artifact on containerd before 2.1): only an upgrade helps.
  "unsupported",
] as const;

export type FailureKind = (typeof FAILURE_KINDS)[number];

/** An error that has been classified. Its message never contains credentials. */
export class ClassifiedError extends Error {
  readonly kind: FailureKind;

  constructor(kind: FailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ClassifiedError";
    this.kind = kind;
  }
}

export function isClassifiedError(error: unknown): error is ClassifiedError {
  return error instanceof ClassifiedError;
}

export { InputError, isInputError, type InputLocation } from "./input.ts";
export { redactSecrets, redactUrl, redactUserinfo } from "./redact.ts";
export { asError, errorMessage } from "./message.ts";
