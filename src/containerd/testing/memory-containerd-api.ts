import { ClassifiedError } from "../../failure/index.ts";
import type { CallOptions } from "../../warm/index.ts";
import type { MemoryImageStore, StoredRecord } from "../../warm/testing/index.ts";
import type { ContainerdApi, ContainerdVersion, ImageRecord, IngestStatus } from "../types.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** One condition of containerd's filter grammar, as `labelFilter` writes them. */
interface LabelCondition {
  readonly key: string;
  readonly value: string | undefined;
}

const QUOTED = String.raw`"(?:[^"\\]|\\.)*"`;
const LABEL_FILTER = new RegExp(`^labels\\.(${QUOTED})(?:==(${QUOTED}))?$`);

function parseFilter(filter: string): LabelCondition {
  const match = LABEL_FILTER.exec(filter);
  if (match?.[1] === undefined) {
    throw new ClassifiedError(
      "invalid",
      `List: the in-memory containerd reads label filters only: ${filter}`,
    );
  }
  return {
    key: JSON.parse(match[1]) as string,
    value: match[2] === undefined ? undefined : (JSON.parse(match[2]) as string),
  };
}

function toImageRecord(record: StoredRecord): ImageRecord {
  return {
    name: record.name,
    labels: record.labels,
    target: { mediaType: OCI_MANIFEST, digest: record.manifest.digest, size: 0, annotations: {} },
  };
}

/**
 * containerd's own API in memory, over the image store an in-memory runtime pulls into: the
 * records behind CRI's images, one per name, and their labels, as pins use them and as warm's
 * namer records a tag (the contract in src/pins/testing holds it to containerd's). Blobs and ingests are not modelled: no blob is
 * known and no ingest runs.
 */
export class MemoryContainerdApi implements ContainerdApi {
  readonly endpoint: string;
  readonly #store: MemoryImageStore;
  readonly #version: ContainerdVersion;

  constructor(store: MemoryImageStore, options: { version?: string } = {}) {
    this.#store = store;
    this.endpoint = store.endpoint;
    this.#version = { version: options.version ?? "2.1.0", revision: "memory" };
  }

  async version(options: CallOptions = {}): Promise<ContainerdVersion> {
    await this.#answer("Version", options);
    return this.#version;
  }

  async getImage(name: string, options: CallOptions = {}): Promise<ImageRecord | undefined> {
    await this.#answer("Get", options);
    const record = this.#store.record(name);
    return record === undefined ? undefined : toImageRecord(record);
  }

  async listImages(filters: readonly string[], options: CallOptions = {}): Promise<ImageRecord[]> {
    await this.#answer("List", options);
    const conditions = filters.map(parseFilter);
    const matches = (record: StoredRecord): boolean =>
      conditions.length === 0 ||
      conditions.some(({ key, value }) =>
        value === undefined ? key in record.labels : record.labels[key] === value,
      );
    return this.#store.records().filter(matches).map(toImageRecord);
  }

  async updateImageLabels(
    record: ImageRecord,
    labels: Readonly<Record<string, string>>,
    options: CallOptions = {},
  ): Promise<ImageRecord> {
    await this.#answer("Update", options);
    const updated = this.#store.label(record.name, labels);
    if (updated === undefined) {
      throw new ClassifiedError("not_found", `Update ${record.name}: image "${record.name}": not found`);
    }
    return toImageRecord(updated);
  }

  /** Creates the record or points it at `target` (content some record holds), keeping other labels. */
  async putImage(record: ImageRecord, options: CallOptions = {}): Promise<void> {
    await this.#answer("Create", options);
    const manifest = this.#store
      .records()
      .find((held) => held.manifest.digest === record.target.digest)?.manifest;
    if (manifest === undefined) {
      throw new ClassifiedError(
        "not_found",
        `Create ${record.name}: the in-memory containerd holds no content ${record.target.digest}`,
      );
    }
    this.#store.put(record.name, manifest, record.labels);
  }

  async contentSize(_digest: string, options: CallOptions = {}): Promise<number | undefined> {
    await this.#answer("Info", options);
    return undefined;
  }

  async listIngests(options: CallOptions = {}): Promise<IngestStatus[]> {
    await this.#answer("ListStatuses", options);
    return [];
  }

  close(): void {
    // Nothing to release: there is no connection.
  }

  async #answer(method: string, options: CallOptions): Promise<void> {
    options.signal?.throwIfAborted();
    await Promise.resolve();
    this.#store.answer(method);
  }
}
