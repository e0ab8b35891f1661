/**
 * A map with a size bound, optional per-entry expiry and least-recently-used eviction, so a
 * daemon that runs for months keeps a flat memory profile whatever it resolves.
 */
export class BoundedCache<K, V> {
  readonly #entries = new Map<K, { value: V; expiresAt: number; weight: number }>();
  readonly #maxEntries: number;
  readonly #maxWeight: number;
  readonly #now: () => number;
  #weight = 0;

  constructor(options: { maxEntries: number; maxWeight?: number; now?: () => number }) {
    this.#maxEntries = options.maxEntries;
    this.#maxWeight = options.maxWeight ?? Number.POSITIVE_INFINITY;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= this.#now()) {
      this.#weight -= entry.weight;
      return undefined;
    }
    // Re-inserting moves the key to the young end of the map's insertion order.
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value`; an entry heavier than the whole budget is not kept. */
  set(key: K, value: V, options: { ttlMs?: number; weight?: number } = {}): void {
    this.delete(key);
    const weight = options.weight ?? 0;
    if (weight > this.#maxWeight) return;
    const expiresAt = this.#now() + (options.ttlMs ?? Number.POSITIVE_INFINITY);
    this.#entries.set(key, { value, expiresAt, weight });
    this.#weight += weight;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#weight <= this.#maxWeight) break;
      this.#entries.delete(oldest);
      this.#weight -= entry.weight;
    }
  }

  delete(key: K): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#weight -= entry.weight;
  }
}
