import { ClassifiedError } from "../../failure/index.ts";
import {
  effectiveTag,
  repositoryName,
  tryParseReference,
  type ImageReference,
} from "../../reference/index.ts";
import type {
  CallOptions,
  ImageFilesystemUsage,
  ImageRuntime,
  PullOptions,
  RuntimeImage,
  RuntimeVersion,
} from "../ports.ts";
import { Gate, type Hold } from "./gate.ts";
import type { Manifest, MemoryRegistry } from "./memory-registry.ts";
import { MemoryImageStore } from "./memory-store.ts";

export interface MemoryRuntimeOptions {
  /** The registries pulls reach, by host; a pull from any other host fails as a network error. */
  readonly registries?: readonly MemoryRegistry[];
  /** The image store, to share it with an in-memory containerd API; a new one by default. */
  readonly store?: MemoryImageStore;
  readonly runtimeVersion?: string;
  /** What ImageFsInfo names as the image filesystem. */
  readonly mountpoint?: string;
}

export interface PullHoldOptions {
  /**
   * The cancel arrives after the last layer is unpacked: containerd records the image all the
   * same, while the caller sees its pull cancelled.
   */
  readonly recordsWhenCancelled?: boolean;
}

interface HeldPull {
  readonly gate: Gate;
  readonly recordsWhenCancelled: boolean;
}

const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

/**
 * The name containerd resolves a reference to (`ParseDockerRef`): `repo@digest` when it names a
 * digest (a tag beside it is dropped), else `repo:tag`, `latest` when it names none.
 */
function resolvedName(reference: ImageReference): string {
  const repository = repositoryName(reference);
  if (reference.digest !== undefined) return `${repository}@${reference.digest}`;
  return `${repository}:${effectiveTag(reference) ?? "latest"}`;
}

/** A reference's resolved name, or the string itself when it does not parse (an id, say). */
function nameOf(image: string): string {
  if (IMAGE_ID.test(image)) return image;
  const parsed = tryParseReference(image);
  return parsed.ok ? resolvedName(parsed.reference) : image;
}

/**
 * warm's `ImageRuntime` in memory, behaving as containerd 2.x does through CRI where warm relies
 * on it (the contract in ./runtime-contract.ts holds it to that): a pull by tag records the tag
 * and the digest, one by digest (or by `name:tag@digest`) the digest alone; ImageStatus finds an
 * image by any of its names or its id; RemoveImage removes every name. Pulls answer at once
 * unless held; a fault can be injected per reference, and the daemon taken down.
 */
export class MemoryRuntime implements ImageRuntime {
  readonly endpoint: string;
  readonly store: MemoryImageStore;
  readonly #registries: ReadonlyMap<string, MemoryRegistry>;
  readonly #version: RuntimeVersion;
  readonly #mountpoint: string;
  readonly #pulls: string[] = [];
  readonly #faults = new Map<string, { readonly error: Error; remaining: number }>();
  readonly #heldPulls = new Map<string, HeldPull[]>();
  readonly #heldListings: Gate[] = [];

  constructor(options: MemoryRuntimeOptions = {}) {
    this.store = options.store ?? new MemoryImageStore();
    this.endpoint = this.store.endpoint;
    this.#registries = new Map((options.registries ?? []).map((registry) => [registry.host, registry]));
    this.#version = {
      runtimeName: "containerd",
      runtimeVersion: options.runtimeVersion ?? "v2.1.0",
      runtimeApiVersion: "v1",
    };
    this.#mountpoint = options.mountpoint ?? "/var/lib/containerd";
  }

  /** Every PullImage that reached the runtime, in order and as written, whatever became of it. */
  pulls(): readonly string[] {
    return [...this.#pulls];
  }

  /** Pulls of `reference` fail with `error`, the next `times` of them (all by default). */
  failPulls(reference: string, error: Error, { times = Infinity }: { times?: number } = {}): void {
    this.#faults.set(nameOf(reference), { error, remaining: times });
  }

  /** Pulls of `reference` succeed again. */
  healPulls(reference: string): void {
    this.#faults.delete(nameOf(reference));
  }

  /** The next pull of `reference` waits, as a download does, until released or cancelled. */
  holdPull(reference: string, options: PullHoldOptions = {}): Hold {
    const gate = new Gate();
    const name = nameOf(reference);
    const held = { gate, recordsWhenCancelled: options.recordsWhenCancelled === true };
    this.#heldPulls.set(name, [...(this.#heldPulls.get(name) ?? []), held]);
    return gate;
  }

  /** The next ListImages waits until released; it then answers with the images of that moment. */
  holdListing(): Hold {
    const gate = new Gate();
    this.#heldListings.push(gate);
    return gate;
  }

  /** Takes the daemon down (`false`): every call fails as unavailable until it is back. */
  setAvailable(available: boolean): void {
    this.store.setAvailable(available);
  }

  async version(options: CallOptions = {}): Promise<RuntimeVersion> {
    await this.#answer("Version", options);
    return this.#version;
  }

  async listImages(options: CallOptions = {}): Promise<RuntimeImage[]> {
    await this.#answer("ListImages", options);
    await this.#heldListings.shift()?.pass(options.signal);
    return this.store.images();
  }

  async imageStatus(image: string, options: CallOptions = {}): Promise<RuntimeImage | undefined> {
    await this.#answer("ImageStatus", options);
    return this.store.find(nameOf(image));
  }

  async pullImage(image: string, options: PullOptions = {}): Promise<string> {
    await this.#answer("PullImage", options);
    this.#pulls.push(image);
    const parsed = tryParseReference(image);
    if (!parsed.ok) throw new ClassifiedError("invalid", `PullImage ${image}: invalid reference format`);
    const name = resolvedName(parsed.reference);
    const held = this.#heldPulls.get(name)?.shift();
    const fault = this.#faults.get(name);
    if (held !== undefined)
      await this.#wait(held, image, options, () => this.#resolve(image, parsed.reference));
    if (fault !== undefined && fault.remaining > 0) {
      fault.remaining -= 1;
      throw fault.error;
    }
    const manifest = this.#resolve(image, parsed.reference);
    this.#record(parsed.reference, manifest);
    return manifest.configDigest;
  }

  async removeImage(image: string, options: CallOptions = {}): Promise<void> {
    await this.#answer("RemoveImage", options);
    const found = this.store.find(nameOf(image));
    // Removing an image the runtime does not hold succeeds, as CRI asks.
    if (found !== undefined) this.store.remove(found.id);
  }

  async imageFsInfo(options: CallOptions = {}): Promise<ImageFilesystemUsage[]> {
    await this.#answer("ImageFsInfo", options);
    return [{ mountpoint: this.#mountpoint, usedBytes: this.store.usedBytes() }];
  }

  close(): void {
    // Nothing to release: there is no connection.
  }

  /** A call reaches the daemon: a cancelled one never does, and none does while it is down. */
  async #answer(method: string, options: CallOptions): Promise<void> {
    options.signal?.throwIfAborted();
    // The answer comes in a later turn, as a socket's would.
    await Promise.resolve();
    this.store.answer(method);
  }

  /**
   * A held pull waits for its release, its cancel or its deadline. A pull that records when
   * cancelled writes the image before the caller learns of the cancel.
   */
  async #wait(held: HeldPull, image: string, options: PullOptions, manifest: () => Manifest): Promise<void> {
    const deadline = new AbortController();
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            deadline.abort(
              new ClassifiedError(
                "timeout",
                `PullImage ${image}: no answer from the runtime at ${this.endpoint} before the deadline`,
              ),
            );
          }, options.timeoutMs);
    const signals = [options.signal, deadline.signal].filter((s): s is AbortSignal => s !== undefined);
    try {
      await held.gate.pass(AbortSignal.any(signals));
    } catch (error) {
      const parsed = tryParseReference(image);
      if (held.recordsWhenCancelled && parsed.ok) this.#record(parsed.reference, manifest());
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #resolve(image: string, reference: ImageReference): Manifest {
    const registry = this.#registries.get(reference.domain);
    if (registry === undefined) {
      throw new ClassifiedError(
        "network",
        `PullImage ${image}: failed to resolve reference: dial tcp: lookup ${reference.domain}: no such host`,
      );
    }
    const manifest = registry.find(reference);
    if (manifest === undefined) {
      throw new ClassifiedError(
        "not_found",
        `PullImage ${image}: failed to resolve reference "${resolvedName(reference)}": not found`,
      );
    }
    return manifest;
  }

  /** The records a CRI pull writes: the name pulled, `repo@digest`, and the image id. */
  #record(reference: ImageReference, manifest: Manifest): void {
    const pulled = resolvedName(reference);
    const others = [`${repositoryName(reference)}@${manifest.digest}`, manifest.configDigest];
    this.store.write(
      pulled,
      others.filter((name) => name !== pulled),
      manifest,
    );
  }
}
