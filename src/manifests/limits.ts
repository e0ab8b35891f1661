import { CST, isAlias, isCollection, isPair, type Document } from "yaml";

/**
 * Bounds on what one manifest input may cost. A manifest is operator input that may come from
 * anywhere (a chart, a pipeline, stdin), so size, nesting and alias expansion are capped before
 * any of it is walked.
 */
export const MANIFEST_LIMITS = {
  /** Per file or stdin; the API server itself refuses objects past 3 MiB (etcd's 1.5 MiB). */
  bytesPerInput: 16 * 1024 * 1024,
  /** Over every input of one command. */
  bytesTotal: 256 * 1024 * 1024,
  /** Deeper than any Kubernetes object (CRD schemas included); well short of where parsing recurses out of stack. */
  depth: 200,
  /** Nodes aliases may add to one document once expanded: generous for reused pod templates, fatal to alias bombs. */
  aliasExpansion: 1_000_000,
} as const;

export const MIB = 1024 * 1024;

/**
 * A lower bound of the nesting depth at each lexeme, kept while the text is lexed: flow
 * collections (`[[[…`) and compact block ones on one line (`- - - …`) nest with no indentation,
 * so linear text reaches any depth, and the parser pays for each level before a document's tree
 * can be checked. Deeper nesting needs indentation, which costs quadratic text and stays small.
 */
export class LexicalDepth {
  #flow = 0;
  #compact = 0;

  /** The depth reached once `lexeme` is read. */
  next(lexeme: string): number {
    switch (CST.tokenType(lexeme)) {
      case "flow-map-start":
      case "flow-seq-start":
        this.#flow += 1;
        break;
      case "flow-map-end":
      case "flow-seq-end":
        this.#flow = Math.max(0, this.#flow - 1);
        break;
      case "seq-item-ind":
      case "explicit-key-ind":
        this.#compact += 1;
        break;
      case "newline":
      case "doc-start":
        this.#compact = 0;
        break;
      default:
        break;
    }
    return this.#flow + this.#compact;
  }
}

/**
 * The offset where a parsed document first nests deeper than `limit` levels, if it does. Reads
 * the parser's concrete syntax tree with an explicit stack, before anything recursive sees it.
 */
export function tooDeepAt(token: CST.Token, limit: number): number | undefined {
  const stack: Array<{ token: CST.Token; depth: number }> = [{ token, depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { token: current, depth } = next;
    if (current.type === "document") {
      if (current.value !== undefined) stack.push({ token: current.value, depth });
      continue;
    }
    if (current.type !== "block-map" && current.type !== "block-seq" && current.type !== "flow-collection")
      continue;
    if (depth + 1 > limit) return current.offset;
    for (const item of current.items) {
      if ("key" in item && item.key != null) stack.push({ token: item.key, depth: depth + 1 });
      if (item.value != null) stack.push({ token: item.value, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * How many nodes aliases add to a document once expanded (`Infinity` for an alias inside its
 * own anchor). Counted once per anchored node, so the cost follows the document's size, not
 * the expansion's. The document must already be known to be shallow (see `tooDeepAt`).
 */
export function aliasExpansion(document: Document): number {
  const sizes = new Map<unknown, number>();
  let added = 0;
  const sizeOf = (node: unknown): number => {
    if (isAlias(node)) {
      const target = node.resolve(document);
      const size = target === undefined ? 1 : sizes.get(target);
      // Anchors precede their aliases, so an unmeasured target is one still being walked: a cycle.
      const expanded = size ?? Infinity;
      added += expanded;
      return expanded;
    }
    let size = 1;
    sizes.set(node, Infinity);
    if (isPair(node)) size += sizeOf(node.key) + sizeOf(node.value);
    else if (isCollection(node)) for (const item of node.items as unknown[]) size += sizeOf(item);
    sizes.set(node, size);
    return size;
  };
  sizeOf(document.contents);
  return added;
}
