import { errorMessage } from "../failure/index.ts";

/** The message of an error, or of the reason an AbortSignal carries. */
export function reasonOf(reason: unknown): string {
  if (reason instanceof AbortSignal) return reasonOf(reason.reason);
  return errorMessage(reason);
}
