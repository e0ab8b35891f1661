import { stringify } from "smol-toml";
import type { ImageSetEntry } from "../imageset/index.ts";
import { pinNames } from "./plan.ts";

/**
 * CRI-O pins what `[crio.image] pinned_images` lists (exact names, `prefix*`, `*keyword*`,
 * matched against every name of an image). Exact names only: a pattern could pin images nobody
 * declared.
 */
export function crioPinnedImages(entries: readonly Pick<ImageSetEntry, "reference" | "digest">[]): string[] {
  const names = entries.flatMap((entry) => pinNames(entry.reference, entry.digest));
  return [...new Set(names)];
}

/** A CRI-O drop-in file; a later drop-in's `pinned_images` replaces this list, it does not add. */
export function crioPinsDropIn(names: readonly string[], sets: readonly string[]): string {
  const header = [
    `# Written by prepull crio-pins from ImageSet(s) ${sets.join(", ")}.`,
    "# Install as /etc/crio/crio.conf.d/<NN>-prepull-pins.conf and reload CRI-O.",
    "# pinned_images in a later drop-in replaces this list instead of adding to it.",
  ];
  return `${header.join("\n")}\n${stringify({ crio: { image: { pinned_images: names } } })}\n`;
}
