import { repositoryName, type ImageReference } from "../reference/index.ts";
import type { ScannedImage } from "./scan.ts";

/** An ImageSet entry as far as a node is concerned: what it names and the digest it is locked at. */
export interface WarmedEntry {
  readonly reference: ImageReference;
  readonly digest: string | undefined;
}

/**
 * The names an ImageSet makes present on every node, keyed the way the runtime looks images up.
 * The agent ensures `N@D` for a known digest and `N:T` for a tag (`latest` when the entry names
 * neither). The runtime drops the tag of a `N:T@D` lookup (containerd's ParseDockerRef), so a
 * pod's digest alone decides whether it finds a digest-pinned image; only an unpinned pod needs
 * its tag.
 */
export class WarmedImages {
  /** `repo:tag` → the digest the set locks it at, when known. */
  readonly #tags = new Map<string, string | undefined>();
  /** `repo@digest`. */
  readonly #digests = new Set<string>();

  constructor(entries: readonly WarmedEntry[]) {
    for (const { reference, digest } of entries) {
      const repository = repositoryName(reference);
      const tag = reference.tag ?? (reference.digest === undefined ? "latest" : undefined);
      if (tag !== undefined) {
        const key = `${repository}:${tag}`;
        this.#tags.set(key, this.#tags.get(key) ?? digest);
      }
      if (digest !== undefined) this.#digests.add(`${repository}@${digest}`);
    }
  }

  /** Whether a pod's image is found on a warm node without pulling: its digest if it has one, else its tag. */
  has(reference: ImageReference): boolean {
    const repository = repositoryName(reference);
    if (reference.digest !== undefined) return this.#digests.has(`${repository}@${reference.digest}`);
    return this.#tags.has(`${repository}:${reference.tag ?? "latest"}`);
  }

  /** The digest the set locks a reference's tag (`latest` when it names neither tag nor digest) at. */
  digestOfTag(reference: ImageReference): string | undefined {
    const tag = reference.tag ?? (reference.digest === undefined ? "latest" : undefined);
    return tag === undefined ? undefined : this.#tags.get(`${repositoryName(reference)}:${tag}`);
  }
}

/** What an ImageSet lists to keep the scanned pods' images warm: each image that parses, once, as written. */
export function imagesToWarm(images: readonly ScannedImage[]): string[] {
  return [...new Set(images.filter((c) => c.reference !== undefined).map((c) => c.image))];
}
