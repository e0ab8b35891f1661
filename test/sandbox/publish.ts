import type { PublishedImage } from "../../src/warm/testing/index.ts";
import { pushImage } from "./images.ts";
import type { RegistryInstance } from "./registry.ts";

/**
 * The contract suites' `publish` on the sandbox: pushes an image of its own content under
 * `path:tag` to `registry` (publishing a tag again moves it, as on the in-memory registry) and
 * describes it as the in-memory registry does.
 */
export function sandboxPublisher(
  registry: RegistryInstance,
): (path: string, tag: string) => Promise<PublishedImage> {
  let pushed = 0;
  return async (path, tag) => {
    pushed += 1;
    const image = await pushImage(registry, { repository: path, tag, seed: `${path}:${tag}#${pushed}` });
    return {
      repository: image.repository,
      tag,
      reference: image.reference,
      digest: image.digest,
      configDigest: image.configDigest,
      size: image.platformSize,
    };
  };
}
