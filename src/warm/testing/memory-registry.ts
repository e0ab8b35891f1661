import { createHash } from "node:crypto";
import { ClassifiedError } from "../../failure/index.ts";
import { effectiveTag, repositoryName, type ImageReference } from "../../reference/index.ts";
import type { TagResolver } from "../execute.ts";
import type { SizeLookup } from "../pass.ts";

/** One single-platform manifest a registry serves. */
export interface Manifest {
  /** The manifest's digest: what `repo@digest` names. */
  readonly digest: string;
  /** The config's digest: the image id a runtime records. */
  readonly configDigest: string;
  /** Compressed bytes of the config and layers the node pulls. */
  readonly size: number;
  /** What the layers unpack to, when the registry lets it be read. */
  readonly unpacked?: number | undefined;
}

/** What a push left in a registry, as the sandbox's `pushImage` reports it. */
export interface PublishedImage extends Manifest {
  /** `host/path`, fully qualified as the runtime records it. */
  readonly repository: string;
  readonly tag: string;
  /** `repository:tag`. */
  readonly reference: string;
}

interface Repository {
  readonly tags: Map<string, string>;
  readonly manifests: Map<string, Manifest>;
}

const sha256 = (text: string): string => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/**
 * A registry in memory: repositories of manifests and the tags pointing at them. Each publish
 * makes new content, so publishing a tag again moves it, as a re-push does. It answers what warm
 * asks a registry (where a tag points, how big a pull is) and what an in-memory runtime pulls.
 */
export class MemoryRegistry {
  readonly host: string;
  readonly #repositories = new Map<string, Repository>();
  #published = 0;

  constructor(host = "registry.test") {
    this.host = host;
  }

  /** Pushes a new image under `path:tag` (`path` as in `team/api`), moving the tag if it exists. */
  publish(path: string, tag: string, options: { size?: number; unpacked?: number } = {}): PublishedImage {
    this.#published += 1;
    const repository = `${this.host}/${path}`;
    const seed = `${repository}:${tag}#${this.#published}`;
    const manifest: Manifest = {
      digest: sha256(`manifest ${seed}`),
      configDigest: sha256(`config ${seed}`),
      size: options.size ?? 1024 + this.#published,
      ...(options.unpacked === undefined ? {} : { unpacked: options.unpacked }),
    };
    const stored = this.#repository(repository);
    stored.manifests.set(manifest.digest, manifest);
    stored.tags.set(tag, manifest.digest);
    return { ...manifest, repository, tag, reference: `${repository}:${tag}` };
  }

  /** Points `tag` at a manifest the repository already holds, as a re-push of the tag would. */
  tag(image: PublishedImage, tag: string): void {
    this.#repository(image.repository).tags.set(tag, image.digest);
  }

  /** The manifest `repository` serves under a tag or a digest. */
  manifest(repository: string, tagOrDigest: string): Manifest | undefined {
    const stored = this.#repositories.get(repository);
    const digest = stored?.tags.get(tagOrDigest) ?? tagOrDigest;
    return stored?.manifests.get(digest);
  }

  /** Where a reference's tag points, or its digest's manifest when it names no tag. */
  find(reference: ImageReference): Manifest | undefined {
    const repository = repositoryName(reference);
    const tag = effectiveTag(reference);
    return this.manifest(repository, reference.digest ?? tag ?? "latest");
  }

  /** Warm's `TagResolver`, answering from this registry. */
  readonly resolveTag: TagResolver = (reference) =>
    Promise.resolve().then(() => this.#known(reference).digest);

  /** Warm's `SizeLookup`, answering from this registry. */
  readonly sizeOf: SizeLookup = (reference) =>
    Promise.resolve().then(() => {
      const { size, unpacked } = this.#known(reference);
      return unpacked === undefined ? { compressed: size } : { compressed: size, uncompressed: unpacked };
    });

  #known(reference: ImageReference): Manifest {
    const manifest = this.find(reference);
    if (manifest === undefined) {
      throw new ClassifiedError("not_found", `${repositoryName(reference)}: manifest unknown`);
    }
    return manifest;
  }

  #repository(repository: string): Repository {
    let stored = this.#repositories.get(repository);
    if (stored === undefined) {
      stored = { tags: new Map(), manifests: new Map() };
      this.#repositories.set(repository, stored);
    }
    return stored;
  }
}
