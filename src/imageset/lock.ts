import { isMap, isScalar, isSeq, type Pair, type YAMLMap } from "yaml";
import { InputError, redactUserinfo } from "../failure/index.ts";
import { InvalidReferenceError, parseReference } from "../reference/index.ts";
import type { ImageSetEntry } from "./imageset.ts";
import { parseYamlDocuments } from "./parse.ts";

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** One digest `lockImageSet` wrote; `previous` is the digest it replaced, if any. */
export interface LockChange {
  readonly image: string;
  readonly digest: string;
  readonly previous?: string;
}

export interface LockOptions {
  /**
   * Entries whose existing `digest:` may be replaced by what the registry says now (`lock
   * --update`): accepting a moved tag. Without it, locked entries are never touched.
   */
  readonly update?: (image: string) => boolean;
}

function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf("\n", offset - 1) + 1);
}

function rangeOf(node: unknown): [number, number, number] | undefined {
  return (node as { range?: [number, number, number] } | null | undefined)?.range ?? undefined;
}

function pairNamed(item: YAMLMap, key: string): Pair | undefined {
  return item.items.find((p) => isScalar(p.key) && p.key.value === key);
}

/**
 * Writes `digest:` for every entry that has none, given what each image resolved to, and with
 * `update` replaces the digest of the entries it selects. Only digests change: comments, blank
 * lines, order, quoting and indentation stay byte for byte. A string entry becomes `image: …`
 * with `digest: …` under it. An image that carries its own `@digest` is never changed: that
 * string is what pods run.
 */
export function lockImageSet(
  text: string,
  file: string,
  resolved: ReadonlyMap<string, string>,
  options: LockOptions = {},
): { text: string; changed: LockChange[] } {
  const edits: Edit[] = [];
  const changed: LockChange[] = [];
  for (const document of parseYamlDocuments(text, file)) {
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
        continue;
      }
      if (!isMap(item)) continue;
      const image = item.get("image");
      if (typeof image !== "string" || image.includes("@")) continue;
      const digest = resolved.get(image);
      if (digest === undefined) continue;
      const locked = pairNamed(item, "digest");
      if (locked === undefined) {
        const keyRange = rangeOf(pairNamed(item, "image")?.key);
        const valueRange = rangeOf(pairNamed(item, "image")?.value);
        if (keyRange === undefined || valueRange === undefined) continue;
        const insertion =
          item.flow === true
            ? `, digest: ${digest}`
            : `\n${" ".repeat(columnOf(text, keyRange[0]))}digest: ${digest}`;
        edits.push({ start: valueRange[1], end: valueRange[1], text: insertion });
        changed.push({ image, digest });
        continue;
      }
      const previous = isScalar(locked.value) ? locked.value.value : undefined;
      const range = rangeOf(locked.value);
      if (options.update?.(image) !== true || previous === digest || range === undefined) continue;
      const quote = /^["']/.exec(text.slice(range[0], range[0] + 1))?.[0] ?? "";
      edits.push({ start: range[0], end: range[1], text: `${quote}${digest}${quote}` });
      changed.push({ image, digest, ...(typeof previous === "string" ? { previous } : {}) });
    }
  }
  let output = text;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    output = output.slice(0, edit.start) + edit.text + output.slice(edit.end);
  }
  return { text: output, changed };
}

function selectionKey(domain: string, path: string, tag: string | undefined): string {
  return tag === undefined ? `${domain}/${path}` : `${domain}/${path}:${tag}`;
}

/**
 * Which entries `lock --update IMAGE…` names. An IMAGE matches an entry written the same way or
 * naming the same repository and tag (`nginx:1` matches `docker.io/library/nginx:1`); without a
 * tag it matches every tag of the repository. An IMAGE that matches nothing is an input error.
 */
export function selectEntries(
  entries: readonly ImageSetEntry[],
  names: readonly string[],
  file: string,
): (image: string) => boolean {
  const selected = new Set<string>();
  for (const name of names) {
    let wanted;
    try {
      wanted = parseReference(name);
    } catch (error) {
      if (!(error instanceof InvalidReferenceError)) throw error;
      throw new InputError(`${redactUserinfo(name)}: invalid image reference: ${error.reason}`, {
        reference: redactUserinfo(name),
      });
    }
    const key = selectionKey(wanted.domain, wanted.path, wanted.tag);
    const matches = entries.filter(
      (e) =>
        e.image === name ||
        selectionKey(
          e.reference.domain,
          e.reference.path,
          wanted.tag === undefined ? undefined : e.reference.tag,
        ) === key,
    );
    if (matches.length === 0) {
      throw new InputError(`${name}: no entry of ${file} names this image`, {
        source: file,
        reference: name,
      });
    }
    for (const match of matches) selected.add(match.image);
  }
  return (image) => selected.has(image);
}

export interface Drift {
  readonly image: string;
  readonly locked: string;
  readonly current: string;
}

/** Locked entries whose tag now points at another digest. */
export function findDrift(entries: readonly ImageSetEntry[], resolved: ReadonlyMap<string, string>): Drift[] {
  const drift: Drift[] = [];
  for (const entry of entries) {
    const current = resolved.get(entry.image);
    if (entry.digest !== undefined && current !== undefined && current !== entry.digest) {
      drift.push({ image: entry.image, locked: entry.digest, current });
    }
  }
  return drift;
}

export interface LockCheck {
  readonly drift: Drift[];
  /** Entries with no digest at all: pulled at whatever their tag points to on the day. */
  readonly unlocked: string[];
  /** No drift, and no unlocked entry unless they were allowed. */
  readonly passed: boolean;
}

/**
 * What `lock --check` decides: a set passes when no locked tag moved and every entry is locked.
 * Unlocked entries fail the check unless `allowUnlocked`, since an unlocked set can change under
 * a check that looks only at locked entries.
 */
export function checkLock(
  entries: readonly ImageSetEntry[],
  resolved: ReadonlyMap<string, string>,
  options: { allowUnlocked?: boolean } = {},
): LockCheck {
  const drift = findDrift(entries, resolved);
  const unlocked = entries.filter((e) => e.digest === undefined).map((e) => e.image);
  return {
    drift,
    unlocked,
    passed: drift.length === 0 && (unlocked.length === 0 || options.allowUnlocked === true),
  };
}
