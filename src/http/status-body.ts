import type { AgentStatus } from "../agent-status/index.ts";

/**
 * Equal when every part is the same value or the same object, looking `depth` levels into plain
 * objects and arrays. The agent rebuilds its status document on every call but reuses the
 * immutable entry records and lists it holds, so this is a cheap test for "nothing changed".
 */
function sameParts(a: unknown, b: unknown, depth: number): boolean {
  if (Object.is(a, b)) return true;
  if (depth === 0 || typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every(
    (key) =>
      Object.hasOwn(b, key) &&
      sameParts((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], depth - 1),
  );
}

/**
 * The serialized /v1/status bodies of the current status revision. A client polling the status,
 * or many pipelining it, gets the same bytes again instead of a fresh JSON string per request;
 * queued responses share one buffer.
 */
export class StatusBodies {
  #status: AgentStatus | undefined;
  #compact: Buffer | undefined;
  #pretty: Buffer | undefined;

  body(status: AgentStatus, pretty: boolean): Buffer {
    // Two levels: the document's sections, then their fields or list items.
    if (this.#status === undefined || !sameParts(this.#status, status, 2)) {
      this.#compact = undefined;
      this.#pretty = undefined;
    }
    this.#status = status;
    if (pretty) return (this.#pretty ??= Buffer.from(JSON.stringify(status, null, 2) + "\n"));
    return (this.#compact ??= Buffer.from(JSON.stringify(status) + "\n"));
  }
}
