import { kubeletImageString, tryParseReference } from "../reference/index.ts";
import { walkManifest } from "./stream.ts";

export interface PinChange {
  readonly line: number | undefined;
  readonly from: string;
  readonly to: string;
}

export interface PinResult {
  readonly text: string;
  readonly changes: PinChange[];
  /** Images left as they are, and why. */
  readonly skipped: Array<{
    readonly line: number | undefined;
    readonly image: string;
    readonly reason: string;
  }>;
}

/** The pinned form of a pod's image: its own string (with `:latest` made explicit) plus `@digest`. */
function pinnedImage(image: string, digest: string): string {
  return `${kubeletImageString(image)}@${digest}`;
}

/**
 * Rewrites containers' `image:` and image volumes' `reference:` values to `name:tag@digest`. Only
 * those values change: every comment, blank line, quote style and indentation stays as it was.
 * Already pinned images are left alone.
 */
export function pinManifest(text: string, digestOf: (image: string) => string | undefined): PinResult {
  const { images } = walkManifest(text);
  const edits: Array<{ start: number; end: number; value: string }> = [];
  const changes: PinChange[] = [];
  const skipped: PinResult["skipped"] = [];
  const seen = new Set<number>();
  for (const container of images) {
    const node = container.imageNode;
    const image = container.image;
    const range = node?.range;
    if (typeof image !== "string") continue;
    if (node === undefined || range == null) continue;
    if (seen.has(range[0])) continue;
    seen.add(range[0]);
    const parsed = tryParseReference(image);
    if (!parsed.ok) {
      skipped.push({ line: container.line, image, reason: parsed.error.reason });
      continue;
    }
    if (parsed.reference.digest !== undefined) continue;
    const digest = digestOf(image);
    if (digest === undefined) {
      skipped.push({ line: container.line, image, reason: "no digest known for it" });
      continue;
    }
    const pinned = pinnedImage(image, digest);
    const source = text.slice(range[0], range[1]);
    const quote = source.startsWith('"') || source.startsWith("'") ? source[0] : "";
    edits.push({ start: range[0], end: range[1], value: `${quote}${pinned}${quote}` });
    changes.push({ line: container.line, from: image, to: pinned });
  }
  let output = text;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    output = output.slice(0, edit.start) + edit.value + output.slice(edit.end);
  }
  return { text: output, changes, skipped };
}
