/**
 * A value set once, after the things that read it are made: what breaks a cycle in the wiring
 * (the metrics' gauges read the scheduler, which reports to the metrics) without a forward
 * reference. Reading it before it is set throws, naming it.
 */
export class Later<T> {
  readonly #name: string;
  #value: { readonly value: T } | undefined;

  constructor(name: string) {
    this.#name = name;
  }

  set(value: T): void {
    if (this.#value !== undefined) throw new Error(`${this.#name} is already set`);
    this.#value = { value };
  }

  get(): T {
    if (this.#value === undefined) throw new Error(`${this.#name} is read before it is set`);
    return this.#value.value;
  }
}
