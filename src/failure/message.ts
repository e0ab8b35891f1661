/** The message of anything thrown: an Error's own message, anything else as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Anything thrown as an Error, so that it can be kept and rethrown with its stack. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
