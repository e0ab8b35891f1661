import type { ImageSetLimits } from "./limits.ts";

export interface NestingProblem {
  readonly line: number;
  readonly detail: string;
}

const SPACE = new Set([" ", "\t", "\r"]);

/**
 * Finds nesting deeper than the limits before the YAML parser sees the text: the parser keeps a
 * few kilobytes per open collection, so 200 KB of `[` would cost hundreds of megabytes. A linear
 * scan over characters that opens a quote or a flow collection only where a value may start
 * (line start, after `- `, `? `, `: `, `[`, `{` or `,`), so `a[b` or `it's` in a plain scalar do
 * not count. It errs towards counting, never towards missing an opening.
 */
export function findExcessiveNesting(
  text: string,
  limits: Pick<ImageSetLimits, "flowDepth" | "indent">,
): NestingProblem | undefined {
  let line = 1;
  let flow = 0;
  let lineStart = true;
  let indent = 0;
  let valueMayStart = true;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] ?? "";
    if (c === "\n") {
      line += 1;
      lineStart = true;
      indent = 0;
      valueMayStart = true;
      continue;
    }
    const next = text[i + 1] ?? "\n";
    const nextIsSpace = next === "\n" || SPACE.has(next);
    if (lineStart) {
      if (c === " " || ((c === "-" || c === "?") && nextIsSpace)) {
        indent += 1;
        if (indent > limits.indent) return { line, detail: `indented deeper than ${limits.indent} columns` };
        continue;
      }
      lineStart = false;
    }
    if (SPACE.has(c)) continue;
    if (c === "#" && (i === 0 || SPACE.has(text[i - 1] ?? "") || text[i - 1] === "\n")) {
      const end = text.indexOf("\n", i);
      i = (end === -1 ? text.length : end) - 1;
      continue;
    }
    if (valueMayStart && (c === "'" || c === '"')) {
      const end = closingQuote(text, i, c);
      for (let j = i + 1; j < end; j += 1) if (text[j] === "\n") line += 1;
      i = end;
      valueMayStart = false;
      continue;
    }
    if (valueMayStart && (c === "[" || c === "{")) {
      flow += 1;
      if (flow > limits.flowDepth) {
        return { line, detail: `collections nested deeper than ${limits.flowDepth} levels` };
      }
      continue;
    }
    if (flow > 0 && (c === "]" || c === "}")) {
      flow -= 1;
      valueMayStart = false;
      continue;
    }
    valueMayStart =
      (flow > 0 && c === ",") || ((c === "-" || c === "?" || c === ":") && (nextIsSpace || flow > 0));
  }
  return undefined;
}

/** The index of the quote closing the one at `start`, or the end of the text. */
function closingQuote(text: string, start: number, quote: string): number {
  for (let i = start + 1; i < text.length; i += 1) {
    const c = text[i];
    if (quote === '"' && c === "\\") i += 1;
    else if (c === quote) {
      if (quote === "'" && text[i + 1] === "'") i += 1;
      else return i;
    }
  }
  return text.length;
}
