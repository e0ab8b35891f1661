import { Command } from "commander";
import { stringify } from "smol-toml";
import { loadDesiredState, type ImageSetEntry } from "../imageset/index.ts";
import { pinNames } from "../warm/index.ts";
import type { CliContext } from "./context.ts";

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

export function crioPinsCommand(context: CliContext): Command {
  return new Command("crio-pins")
    .summary("print a CRI-O drop-in that pins the images of ImageSets")
    .description(
      "CRI-O has no API to pin images; it pins the names its configuration lists in " +
        "[crio.image] pinned_images, which kubelet's image GC then skips. Print a drop-in listing " +
        "the exact names pods use for every entry (name:tag, and name@digest when the digest is " +
        "known; lock the set first to include digests).\n\nExit status: 0, or 2 on usage errors or invalid files.",
    )
    .argument("<imageset...>", "ImageSet files or directories")
    .action(async (paths: string[]) => {
      const desired = await loadDesiredState(paths);
      context.io.stdout.write(crioPinsDropIn(crioPinnedImages(desired.entries), desired.sets));
    });
}
