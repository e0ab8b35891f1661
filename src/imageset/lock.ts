import { isMap, isScalar, isSeq, parseAllDocuments, stringify, type Node } from "yaml";
import { ImageSetError, type ImageSetEntry } from "./imageset.ts";

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf("\n", offset - 1) + 1);
}

function rangeOf(node: Node | null | undefined): [number, number, number] | undefined {
  return (node as { range?: [number, number, number] } | null | undefined)?.range ?? undefined;
}

/**
 * Writes `digest:` for every entry that has none, given what each image resolved to. Only the
 * entries change: comments, blank lines, order and indentation stay byte for byte. A string
 * entry becomes `image: …` with `digest: …` under it.
 */
export function lockImageSet(
  text: string,
  file: string,
  resolved: ReadonlyMap<string, string>,
): { text: string; changed: Array<{ image: string; digest: string }> } {
  const edits: Edit[] = [];
  const changed: Array<{ image: string; digest: string }> = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new ImageSetError(file, `not valid YAML: ${document.errors[0]?.message.split("\n")[0] ?? ""}`);
    }
    const images = document.getIn(["spec", "images"], true);
    if (!isSeq(images)) continue;
    const flow = images.flow === true;
    for (const item of images.items) {
      if (isScalar(item) && typeof item.value === "string") {
        const digest = resolved.get(item.value);
        const range = rangeOf(item);
        if (digest === undefined || range === undefined || item.value.includes("@")) continue;
        const source = text.slice(range[0], range[1]);
        const replacement = flow
          ? `{ image: ${source}, digest: ${digest} }`
          : `image: ${source}\n${" ".repeat(columnOf(text, range[0]))}digest: ${digest}`;
        edits.push({ start: range[0], end: range[1], text: replacement });
        changed.push({ image: item.value, digest });
      } else if (isMap(item) && !item.has("digest")) {
        const image = item.get("image");
        const pair = item.items.find((p) => isScalar(p.key) && p.key.value === "image");
        const valueRange = rangeOf(pair?.value as Node | undefined);
        const keyRange = rangeOf(pair?.key as Node | undefined);
        if (
          typeof image !== "string" ||
          image.includes("@") ||
          valueRange === undefined ||
          keyRange === undefined
        )
          continue;
        const digest = resolved.get(image);
        if (digest === undefined) continue;
        const insertion =
          item.flow === true
            ? `, digest: ${digest}`
            : `\n${" ".repeat(columnOf(text, keyRange[0]))}digest: ${digest}`;
        edits.push({ start: valueRange[1], end: valueRange[1], text: insertion });
        changed.push({ image, digest });
      }
    }
  }
  let output = text;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    output = output.slice(0, edit.start) + edit.text + output.slice(edit.end);
  }
  return { text: output, changed };
}

/**
 * Rewrites the `digest:` of locked `{image, digest}` entries to what `resolved` says their tag points
 * at now (`prepull lock --update`), byte for byte elsewhere. Entries whose image carries its own
 * `@digest` are what pods write, so they are left alone.
 */
export function updateLockedDigests(
  text: string,
  file: string,
  resolved: ReadonlyMap<string, string>,
): { text: string; changed: Array<{ image: string; from: string; digest: string }> } {
  const edits: Edit[] = [];
  const changed: Array<{ image: string; from: string; digest: string }> = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new ImageSetError(file, `not valid YAML: ${document.errors[0]?.message.split("\n")[0] ?? ""}`);
    }
    const images = document.getIn(["spec", "images"], true);
    if (!isSeq(images)) continue;
    for (const item of images.items) {
      if (!isMap(item)) continue;
      const image = item.get("image");
      const pair = item.items.find((p) => isScalar(p.key) && p.key.value === "digest");
      const current = isScalar(pair?.value) ? pair.value.value : undefined;
      const range = rangeOf(pair?.value as Node | undefined);
      if (typeof image !== "string" || typeof current !== "string" || range === undefined) continue;
      const digest = resolved.get(image);
      if (digest === undefined || digest === current || image.includes("@")) continue;
      edits.push({ start: range[0], end: range[1], text: digest });
      changed.push({ image, from: current, digest });
    }
  }
  let output = text;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    output = output.slice(0, edit.start) + edit.text + output.slice(edit.end);
  }
  return { text: output, changed };
}

/** Locked entries whose tag now points at another digest. */
export function findDrift(
  entries: readonly ImageSetEntry[],
  resolved: ReadonlyMap<string, string>,
): Array<{ image: string; locked: string; current: string }> {
  const drift: Array<{ image: string; locked: string; current: string }> = [];
  for (const entry of entries) {
    const current = resolved.get(entry.image);
    if (entry.digest !== undefined && current !== undefined && current !== entry.digest) {
      drift.push({ image: entry.image, locked: entry.digest, current });
    }
  }
  return drift;
}

/** An ImageSet file for `entries`, e.g. what `prepull plan --output imageset` prints. */
export function serializeImageSet(
  name: string,
  entries: ReadonlyArray<{ image: string; digest?: string | undefined }>,
  comment?: string,
): string {
  const body = stringify({
    apiVersion: "prepull/v1",
    kind: "ImageSet",
    metadata: { name },
    spec: {
      images: entries.map((entry) =>
        entry.digest === undefined ? entry.image : { image: entry.image, digest: entry.digest },
      ),
    },
  });
  const header =
    comment === undefined
      ? ""
      : comment
          .split("\n")
          .map((line) => `# ${line}`.trimEnd())
          .join("\n") + "\n";
  return header + body;
}
