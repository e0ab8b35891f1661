import { PIN_LABEL, PIN_VALUE } from "../../pins/index.ts";
import { ClassifiedError } from "../../failure/index.ts";
import type { RuntimeImage } from "../ports.ts";
import type { Manifest } from "./memory-registry.ts";

/** One containerd image record: a name, the manifest it points at, and its labels. */
export interface StoredRecord {
  readonly name: string;
  readonly manifest: Manifest;
  readonly labels: Readonly<Record<string, string>>;
}

/** The label containerd's CRI plugin writes on every record it makes. */
const CRI_MANAGED: Readonly<Record<string, string>> = { "io.cri-containerd.image": "managed" };

const isId = (name: string, manifest: Manifest): boolean => name === manifest.configDigest;

/**
 * containerd's image store in memory, shared by its CRI face (the in-memory runtime) and its own
 * API (the in-memory containerd API): one record per name, `repo:tag`, `repo@digest` and the id
 * `sha256:<config>`, each with its labels. CRI shows one image per config digest, with every
 * name of it, pinned when any of its records carries the pin label. While the daemon is down,
 * every call of either face fails as unavailable.
 */
export class MemoryImageStore {
  readonly endpoint: string;
  readonly #records = new Map<string, StoredRecord>();
  #available = true;

  constructor(endpoint = "memory://containerd") {
    this.endpoint = endpoint;
  }

  /** Takes the daemon down (`false`) or brings it back. */
  setAvailable(available: boolean): void {
    this.#available = available;
  }

  /** Every call asks this first: it fails as a call to a stopped daemon fails. */
  answer(method: string): void {
    if (this.#available) return;
    throw new ClassifiedError(
      "unavailable",
      `container runtime at ${this.endpoint} is unavailable (${method}): connect ECONNREFUSED (nothing is listening on the socket; is the runtime running?)`,
    );
  }

  /**
   * The records a pull writes: the name pulled is written again (at `manifest`, with CRI's label
   * alone, so a pin on it is gone); the image's other names are added where missing and otherwise
   * keep their records, labels included.
   */
  write(pulled: string, others: readonly string[], manifest: Manifest): void {
    this.#records.set(pulled, { name: pulled, manifest, labels: CRI_MANAGED });
    for (const name of others) {
      if (!this.#records.has(name)) this.#records.set(name, { name, manifest, labels: CRI_MANAGED });
    }
  }

  /**
   * Creates the record `name` at `manifest` with `labels`, or points the existing one at it and
   * sets `labels`, keeping its others (containerd's images service, as CRI calls it).
   */
  put(name: string, manifest: Manifest, labels: Readonly<Record<string, string>>): void {
    const existing = this.#records.get(name);
    this.#records.set(name, { name, manifest, labels: { ...existing?.labels, ...labels } });
  }

  record(name: string): StoredRecord | undefined {
    return this.#records.get(name);
  }

  records(): StoredRecord[] {
    return [...this.#records.values()];
  }

  /** Sets the labels named (an empty value removes one); `undefined` when no record has the name. */
  label(name: string, labels: Readonly<Record<string, string>>): StoredRecord | undefined {
    const record = this.#records.get(name);
    if (record === undefined) return undefined;
    const merged = Object.entries({ ...record.labels, ...labels }).filter(([, value]) => value !== "");
    const next = { ...record, labels: Object.fromEntries(merged) };
    this.#records.set(name, next);
    return next;
  }

  /** The image a record name or an image id names. */
  find(nameOrId: string): RuntimeImage | undefined {
    const id = this.#records.get(nameOrId)?.manifest.configDigest ?? nameOrId;
    return this.images().find((image) => image.id === id);
  }

  /** Removes every record of the image: CRI RemoveImage removes all its names. */
  remove(id: string): void {
    for (const [name, record] of this.#records) {
      if (record.manifest.configDigest === id) this.#records.delete(name);
    }
  }

  /** The images as CRI lists them. */
  images(): RuntimeImage[] {
    const byId = new Map<string, StoredRecord[]>();
    for (const record of this.#records.values()) {
      const id = record.manifest.configDigest;
      byId.set(id, [...(byId.get(id) ?? []), record]);
    }
    return [...byId].map(([id, records]) => {
      const names = records.filter(({ name, manifest }) => !isId(name, manifest)).map(({ name }) => name);
      return {
        id,
        repoTags: names.filter((name) => !name.includes("@")).sort(),
        repoDigests: names.filter((name) => name.includes("@")).sort(),
        size: records[0]?.manifest.size ?? 0,
        pinned: records.some((record) => record.labels[PIN_LABEL] === PIN_VALUE),
      };
    });
  }

  /** Bytes the images take, each counted once. */
  usedBytes(): number {
    return this.images().reduce((sum, image) => sum + image.size, 0);
  }
}
