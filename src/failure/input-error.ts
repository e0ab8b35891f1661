/** Where bad input came from: a file, a field inside it, an image reference. */
export interface InputErrorDetails {
  readonly source?: string;
  readonly field?: string;
  readonly reference?: string;
}

/**
 * Input a user can fix (a file, flag or reference), as opposed to a failure of the system. The
 * CLI turns it into a one-line message and exit status 2; the agent reports it and keeps the last
 * good input.
 */
export class InputError extends Error {
  readonly source: string | undefined;
  readonly field: string | undefined;
  readonly reference: string | undefined;

  constructor(message: string, details: InputErrorDetails = {}) {
    super(message);
    this.name = "InputError";
    this.source = details.source;
    this.field = details.field;
    this.reference = details.reference;
  }
}
