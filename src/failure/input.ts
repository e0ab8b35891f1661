/** Where a piece of input is at fault: the file (or flag, or `command line`), the field in it, the reference. */
export interface InputLocation {
  readonly source?: string;
  readonly field?: string;
  readonly reference?: string;
}

/**
 * Input the user gave is wrong: a file that cannot be read or does not validate, a field, a flag's
 * value, an image reference. Raised where input is read; the CLI turns every one into exit 2. The
 * message is one line that already names the source, field or reference; the fields are for code.
 */
export class InputError extends Error {
  readonly source: string | undefined;
  readonly field: string | undefined;
  readonly reference: string | undefined;

  constructor(message: string, location: InputLocation = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InputError";
    this.source = location.source;
    this.field = location.field;
    this.reference = location.reference;
  }
}

export function isInputError(error: unknown): error is InputError {
  return error instanceof InputError;
}
