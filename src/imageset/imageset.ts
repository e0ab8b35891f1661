import { createHash } from "node:crypto";
import { isMap, isSeq, LineCounter, parseAllDocuments, type Document } from "yaml";
import type { z } from "zod";
import { InputError } from "../failure/index.ts";
import { InvalidReferenceError, parseReference, type ImageReference } from "../reference/index.ts";
import { imageSetSchema } from "./schema.ts";

export interface ImageSetEntry {
  /** Exactly as pods write it; never rewritten. */
  readonly image: string;
  readonly reference: ImageReference;
  /** Intended digest: from `digest:` or the image's own `@digest`. */
  readonly digest: string | undefined;
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
}

export class ImageSetError extends InputError {
  readonly file: string;
  readonly path: string | undefined;
  readonly value: unknown;
  readonly expected: string | undefined;

  constructor(
    file: string,
    detail: string,
    options: { path?: string; value?: unknown; expected?: string; line?: number } = {},
  ) {
    const where = `${file}${options.line === undefined ? "" : `:${options.line}`}`;
    const path = options.path === undefined || options.path === "" ? "" : ` ${options.path}:`;
    super(`${where}:${path} ${detail}`, { source: file, field: options.path });
    this.name = "ImageSetError";
    this.file = file;
    this.path = options.path;
    this.value = options.value;
    this.expected = options.expected;
  }
}

function pathText(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}

/** The 1-based line of a path inside a YAML document, when the parser kept its position. */
function lineOf(
  document: Document,
  path: ReadonlyArray<PropertyKey>,
  lines: LineCounter,
): number | undefined {
  let node: unknown = document.contents;
  for (const part of path) {
    if (isMap(node)) node = node.get(part, true);
    else if (isSeq(node) && typeof part === "number") node = node.get(part, true);
    else break;
  }
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  return range === undefined ? undefined : lines.linePos(range[0]).line;
}

function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = input;
  for (const part of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function schemaError(
  file: string,
  error: z.ZodError,
  input: unknown,
  document: Document,
  lines: LineCounter,
): ImageSetError {
  const issue = error.issues[0];
  const path = issue?.path ?? [];
  const value = valueAt(input, path);
  const detail =
    issue?.code === "unrecognized_keys"
      ? `unknown field${issue.keys.length === 1 ? "" : "s"} ${issue.keys.map((k) => `"${k}"`).join(", ")}`
      : `${issue?.message ?? "invalid"}, got ${describeValue(value)}`;
  return new ImageSetError(file, detail, {
    path: pathText(path),
    value,
    expected: issue?.message,
    line: lineOf(document, path, lines),
  });
}

function entryFrom(
  file: string,
  index: number,
  raw: string | { image: string; digest?: string | undefined },
  line: number | undefined,
): ImageSetEntry {
  const image = typeof raw === "string" ? raw : raw.image;
  const at = `spec.images[${index}]${typeof raw === "string" ? "" : ".image"}`;
  let reference: ImageReference;
  try {
    reference = parseReference(image);
  } catch (error) {
    if (error instanceof InvalidReferenceError) {
      throw new ImageSetError(file, `invalid image reference "${image}": ${error.reason}`, {
        path: at,
        value: image,
        line,
      });
    }
    throw error;
  }
  const declared = typeof raw === "string" ? undefined : raw.digest;
  if (declared !== undefined && reference.digest !== undefined && declared !== reference.digest) {
    throw new ImageSetError(file, `digest ${declared} contradicts the image's own ${reference.digest}`, {
      path: `spec.images[${index}].digest`,
      value: declared,
      line,
    });
  }
  return {
    image,
    reference,
    digest: declared ?? reference.digest,
    sources: [`${file}: spec.images[${index}]`],
  };
}

/** Parses one file: YAML (several documents allowed) or JSON. Errors name file, path and line. */
export function parseImageSet(text: string, file: string): ImageSetDocument[] {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, prettyErrors: true });
  if (!Array.isArray(documents)) return [];
  const sets: ImageSetDocument[] = [];
  for (const document of documents) {
    const problem = document.errors[0];
    if (problem !== undefined) {
      const line = problem.linePos?.[0].line;
      throw new ImageSetError(
        file,
        `not valid YAML: ${(problem.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`,
        line === undefined ? {} : { line },
      );
    }
    let input: unknown;
    try {
      input = document.toJS();
    } catch (error) {
      // yaml refuses documents whose aliases expand without bound ("billion laughs").
      throw new ImageSetError(file, `not valid YAML: ${(error as Error).message}`);
    }
    if (input === null || input === undefined) continue;
    const parsed = imageSetSchema.safeParse(input);
    if (!parsed.success) throw schemaError(file, parsed.error, input, document, lines);
    const entries = parsed.data.spec.images.map((raw, index) =>
      entryFrom(file, index, raw, lineOf(document, ["spec", "images", index], lines)),
    );
    sets.push({ file, name: parsed.data.metadata.name, entries });
  }
  return sets;
}

/** The generation: a hash over the sorted (image, digest) pairs. */
export function generationOf(entries: readonly ImageSetEntry[]): string {
  const lines = entries.map((entry) => `${entry.image}\t${entry.digest ?? ""}`).sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 12);
}

/** Merges sets; the same image (or the same repository and tag) with two digests is rejected. */
export function mergeImageSets(documents: readonly ImageSetDocument[]): DesiredState {
  const byImage = new Map<string, ImageSetEntry>();
  const byTag = new Map<string, ImageSetEntry>();
  for (const document of documents) {
    for (const entry of document.entries) {
      const existing = byImage.get(entry.image);
      if (existing !== undefined) {
        if (existing.digest !== undefined && entry.digest !== undefined && existing.digest !== entry.digest) {
          throw contradiction(entry, existing);
        }
        byImage.set(entry.image, {
          ...existing,
          digest: existing.digest ?? entry.digest,
          sources: [...existing.sources, ...entry.sources],
        });
        continue;
      }
      const { reference } = entry;
      if (reference.tag !== undefined && entry.digest !== undefined) {
        const key = `${reference.domain}/${reference.path}:${reference.tag}`;
        const other = byTag.get(key);
        if (other !== undefined && other.digest !== entry.digest) throw contradiction(entry, other);
        byTag.set(key, entry);
      }
      byImage.set(entry.image, entry);
    }
  }
  const entries = [...byImage.values()];
  return {
    entries,
    generation: generationOf(entries),
    sets: documents.map((document) => document.name),
    files: [...new Set(documents.map((document) => document.file))],
  };
}

function contradiction(entry: ImageSetEntry, other: ImageSetEntry): ImageSetError {
  const [file = ""] = (entry.sources[0] ?? "").split(": ");
  return new ImageSetError(
    file,
    `${entry.image} is declared at ${entry.digest ?? "no digest"} here (${entry.sources.join(", ")}) and at ${other.digest ?? "no digest"} in ${other.sources.join(", ")}`,
  );
}

/** The desired state of `prepull warm IMAGE…`. Throws InvalidReferenceError for a bad one. */
export function desiredStateFromImages(images: readonly string[]): DesiredState {
  const entries = images.map((image, index): ImageSetEntry => {
    const reference = parseReference(image);
    return { image, reference, digest: reference.digest, sources: [`argument ${index + 1}`] };
  });
  return mergeImageSets([{ file: "command line", name: "command-line", entries }]);
}
