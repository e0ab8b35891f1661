import { Command } from "commander";
import { loadDesiredState } from "../imageset/index.ts";
import { crioPinnedImages, crioPinsDropIn } from "../pins/index.ts";
import type { CliContext } from "./context.ts";

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
