import type { RuntimeImage } from "./ports.ts";

/**
 * One ListImages answer, indexed the way the runtime resolves names: `repo:tag` through
 * repo_tags and `repo@digest` through repo_digests (both fully qualified, as the runtime records
 * them).
 */
export class ImageInventory {
  readonly images: readonly RuntimeImage[];
  readonly #byName = new Map<string, RuntimeImage>();

  constructor(images: readonly RuntimeImage[]) {
    this.images = images;
    for (const image of images) {
      for (const name of [...image.repoTags, ...image.repoDigests]) this.#byName.set(name, image);
    }
  }

  /** `name` is `repository:tag` or `repository@digest`, fully qualified. */
  find(name: string): RuntimeImage | undefined {
    return this.#byName.get(name);
  }

  get size(): number {
    return this.images.length;
  }
}

/** The digest the runtime recorded for `repository`, e.g. after a trust-on-first-use tag pull. */
export function recordedDigest(image: RuntimeImage, repository: string): string | undefined {
  const prefix = `${repository}@`;
  return image.repoDigests.find((name) => name.startsWith(prefix))?.slice(prefix.length);
}
