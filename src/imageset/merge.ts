import { createHash } from "node:crypto";
import { parseReference } from "../reference/index.ts";
import { ImageSetError, type DesiredState, type ImageSetDocument, type ImageSetEntry } from "./imageset.ts";

/** Places an error message lists before it says how many more there are. */
const SOURCES_SHOWN = 3;

/**
 * The generation: a hash over the sorted (image, digest) pairs. An opt-out of pinning or gating
 * is part of the line only when present, so sets without one keep the generations they always had.
 */
function generationOf(entries: readonly ImageSetEntry[]): string {
  const lines = entries
    .map(
      (entry) =>
        `${entry.image}\t${entry.digest ?? ""}${entry.pin === false ? "\tpin=false" : ""}${entry.gate === false ? "\tgate=false" : ""}`,
    )
    .sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 12);
}

interface Merging {
  readonly first: ImageSetEntry;
  digest: string | undefined;
  /** Any source saying `pin: false` opts the merged entry out. */
  pin: boolean;
  /** Any source that gates (the default) makes the merged entry gate the node. */
  gate: boolean;
  /** Grown in place: copying it per duplicate made a merge quadratic in the duplicates. */
  readonly sources: string[];
}

/**
 * Merges sets in one pass; the same image (or the same repository and tag) with two digests is
 * rejected. `emptyFiles` are files that held no document, carried into the state for status.
 */
export function mergeImageSets(
  documents: readonly ImageSetDocument[],
  emptyFiles: readonly string[] = [],
): DesiredState {
  const byImage = new Map<string, Merging>();
  const byTag = new Map<string, Merging>();
  for (const document of documents) {
    for (const entry of document.entries) {
      const existing = byImage.get(entry.image);
      if (existing !== undefined) {
        if (existing.digest !== undefined && entry.digest !== undefined && existing.digest !== entry.digest) {
          throw contradiction(entry, existing);
        }
        existing.digest ??= entry.digest;
        if (entry.pin === false) existing.pin = false;
        if (entry.gate !== false) existing.gate = true;
        for (const source of entry.sources) existing.sources.push(source);
        continue;
      }
      const merging: Merging = {
        first: entry,
        digest: entry.digest,
        pin: entry.pin !== false,
        gate: entry.gate !== false,
        sources: [...entry.sources],
      };
      const { reference } = entry;
      if (reference.tag !== undefined && entry.digest !== undefined) {
        const key = `${reference.domain}/${reference.path}:${reference.tag}`;
        const other = byTag.get(key);
        if (other !== undefined && other.digest !== entry.digest) throw contradiction(entry, other);
        byTag.set(key, merging);
      }
      byImage.set(entry.image, merging);
    }
  }
  const entries = [...byImage.values()].map((m): ImageSetEntry => {
    const { image, reference } = m.first;
    return {
      image,
      reference,
      digest: m.digest,
      ...(m.pin ? {} : { pin: false as const }),
      ...(m.gate ? {} : { gate: false as const }),
      sources: m.sources,
    };
  });
  return {
    entries,
    generation: generationOf(entries),
    sets: documents.map((document) => document.name),
    files: [...new Set(documents.map((document) => document.file))],
    emptyFiles: [...emptyFiles],
  };
}

function listSources(sources: readonly string[]): string {
  const shown = sources.slice(0, SOURCES_SHOWN).join(", ");
  return sources.length > SOURCES_SHOWN ? `${shown} and ${sources.length - SOURCES_SHOWN} more` : shown;
}

function contradiction(entry: ImageSetEntry, other: Merging): ImageSetError {
  const [file = ""] = (entry.sources[0] ?? "").split(": ");
  return new ImageSetError(
    file,
    `${entry.image} is declared at ${entry.digest ?? "no digest"} here (${listSources(entry.sources)}) and at ${other.digest ?? "no digest"} in ${listSources(other.sources)}`,
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
