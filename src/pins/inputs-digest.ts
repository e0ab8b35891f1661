import { createHash } from "node:crypto";
import type { RuntimeImage } from "../warm/index.ts";
import type { PinEntry } from "./plan.ts";

const DIGEST_BYTES = 32;

/** XOR of each part's SHA-256: the same parts give the same digest in any order. */
function unordered(parts: Iterable<string>): Buffer {
  const sum = Buffer.alloc(DIGEST_BYTES);
  for (const part of parts) {
    const digest = createHash("sha256").update(part).digest();
    for (let i = 0; i < DIGEST_BYTES; i += 1) sum[i] = (sum[i] ?? 0) ^ (digest[i] ?? 0);
  }
  return sum;
}

const sorted = (names: readonly string[]): string => [...names].sort().join("\u0001");

/**
 * A digest of everything a pin pass decides from: the runtime's images (with CRI's `pinned`,
 * which follows containerd's pin label, so a pin a re-pull dropped changes it), the entries,
 * and the budget. containerd lists images in no fixed order, so order does not count.
 */
export function pinInputsDigest(
  images: readonly RuntimeImage[],
  entries: ReadonlyArray<{ readonly key: string; readonly entry: PinEntry }>,
  budgetBytes: number,
): string {
  const imagePart = unordered(
    images.map(
      (image) =>
        `${image.id}\u0002${sorted(image.repoTags)}\u0002${sorted(image.repoDigests)}\u0002${String(image.size)}\u0002${String(image.pinned)}`,
    ),
  );
  const entryPart = unordered(
    entries.map(
      ({ key, entry }) =>
        `${key}\u0002${sorted(entry.names)}\u0002${entry.imageId ?? ""}\u0002${String(entry.size)}\u0002${String(entry.pin)}`,
    ),
  );
  return `${imagePart.toString("hex")}:${entryPart.toString("hex")}:${String(budgetBytes)}`;
}
