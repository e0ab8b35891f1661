import { InputError } from "../failure/index.ts";
import type { ImageReference } from "../reference/index.ts";

export interface ImageSetEntry {
  /** Exactly as pods write it; never rewritten. */
  readonly image: string;
  readonly reference: ImageReference;
  /** Intended digest: from `digest:` or the image's own `@digest`. */
  readonly digest: string | undefined;
  /** `false` when a source opts the entry out of pinning; absent means it is pinned. */
  readonly pin?: false;
  /** `false` when every set naming it says `spec.gate: false`; absent means it gates the node. */
  readonly gate?: false;
  /** Where it was declared, e.g. `web.yaml: spec.images[2]`. */
  readonly sources: readonly string[];
}

export interface ImageSetDocument {
  readonly file: string;
  readonly name: string;
  readonly entries: readonly ImageSetEntry[];
}

export interface DesiredState {
  readonly entries: readonly ImageSetEntry[];
  /** Content hash of the effective desired state: independent of files, order and comments. */
  readonly generation: string;
  readonly sets: readonly string[];
  readonly files: readonly string[];
  /**
   * Files that hold no document at all (empty, or only comments). Allowed, so that a set can be
   * emptied without unmounting it, but worth showing: a blanked ConfigMap key looks the same.
   */
  readonly emptyFiles: readonly string[];
}

export interface ImageSetErrorOptions {
  readonly path?: string;
  readonly value?: unknown;
  readonly expected?: string;
  readonly line?: number;
}

/** A bad ImageSet file: the message names the file, and the line and field when known. */
export class ImageSetError extends InputError {
  readonly file: string;
  readonly detail: string;
  readonly path: string | undefined;
  readonly line: number | undefined;
  readonly value: unknown;
  readonly expected: string | undefined;

  constructor(file: string, detail: string, options: ImageSetErrorOptions = {}) {
    const where = `${file}${options.line === undefined ? "" : `:${options.line}`}`;
    const path = options.path === undefined || options.path === "" ? "" : ` ${options.path}:`;
    super(`${where}:${path} ${detail}`, {
      source: file,
      ...(options.path === undefined || options.path === "" ? {} : { field: options.path }),
    });
    this.name = "ImageSetError";
    this.file = file;
    this.detail = detail;
    this.path = options.path;
    this.line = options.line;
    this.value = options.value;
    this.expected = options.expected;
  }
}
