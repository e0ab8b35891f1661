import { isMap, isSeq, LineCounter, parseAllDocuments, visit, type Document } from "yaml";
import type { z } from "zod";
import { InvalidReferenceError, parseReference, type ImageReference } from "../reference/index.ts";
import { redactUserinfo } from "../failure/index.ts";
import { ImageSetError, type ImageSetDocument, type ImageSetEntry } from "./imageset.ts";
import { DEFAULT_LIMITS, type ImageSetLimits } from "./limits.ts";
import { findExcessiveNesting } from "./nesting.ts";
import { imageSetSchema } from "./schema.ts";

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
  raw: string | { image: string; digest?: string | undefined; pin?: boolean | undefined },
  line: number | undefined,
): ImageSetEntry {
  const image = typeof raw === "string" ? raw : raw.image;
  const at = `spec.images[${index}]${typeof raw === "string" ? "" : ".image"}`;
  let reference: ImageReference;
  try {
    reference = parseReference(image);
  } catch (error) {
    if (error instanceof InvalidReferenceError) {
      throw new ImageSetError(file, `invalid image reference "${redactUserinfo(image)}": ${error.reason}`, {
        path: at,
        value: redactUserinfo(image),
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
    ...(typeof raw !== "string" && raw.pin === false ? { pin: false } : {}),
    sources: [`${file}: spec.images[${index}]`],
  };
}

/**
 * The YAML documents of a file, refusing what would cost far more to parse than the text's size:
 * deep nesting, and aliases (`*name`), which an ImageSet has no use for and which can expand
 * exponentially.
 */
export function parseYamlDocuments(
  text: string,
  file: string,
  limits: Pick<ImageSetLimits, "flowDepth" | "indent"> = DEFAULT_LIMITS,
  lines?: LineCounter,
): Document.Parsed[] {
  const nesting = findExcessiveNesting(text, limits);
  if (nesting !== undefined) {
    throw new ImageSetError(file, `refused: ${nesting.detail}`, { line: nesting.line });
  }
  const documents = parseAllDocuments(text, {
    prettyErrors: true,
    ...(lines === undefined ? {} : { lineCounter: lines }),
  });
  if (!Array.isArray(documents)) return [];
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
    visit(document, {
      Alias(_, node) {
        const line = node.range ? lines?.linePos(node.range[0]).line : undefined;
        throw new ImageSetError(
          file,
          `refused: YAML alias *${node.source}; write the value out instead`,
          line === undefined ? {} : { line },
        );
      },
    });
  }
  return documents;
}

/** Parses one file: YAML (several documents allowed) or JSON. Errors name file, path and line. */
export function parseImageSet(
  text: string,
  file: string,
  limits: Pick<ImageSetLimits, "flowDepth" | "indent"> = DEFAULT_LIMITS,
): ImageSetDocument[] {
  const lines = new LineCounter();
  const sets: ImageSetDocument[] = [];
  for (const document of parseYamlDocuments(text, file, limits, lines)) {
    const input: unknown = document.toJS();
    if (input === null || input === undefined) continue;
    const parsed = imageSetSchema.safeParse(input);
    if (!parsed.success) throw schemaError(file, parsed.error, input, document, lines);
    const ungated = parsed.data.spec.gate === false;
    const entries = parsed.data.spec.images.map((raw, index) => {
      const entry = entryFrom(file, index, raw, lineOf(document, ["spec", "images", index], lines));
      return ungated ? { ...entry, gate: false as const } : entry;
    });
    sets.push({ file, name: parsed.data.metadata.name, entries });
  }
  return sets;
}
