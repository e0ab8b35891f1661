import { writeFile } from "node:fs/promises";
import { Command, Option } from "commander";
import PQueue from "p-queue";
import { errorMessage, isClassifiedError } from "../failure/index.ts";
import { loadDesiredState } from "../imageset/index.ts";
import {
  pinManifest,
  readManifestSources,
  scanManifests,
  WarmedImages,
  type ScannedImage,
} from "../manifests/index.ts";
import { withDefaultTag, type ImageReference } from "../reference/index.ts";
import { ExitCode, UsageError, type CliContext } from "./context.ts";
import { errorLine, failureLine } from "./failure-text.ts";
import { addRegistryOptions, openRegistryAccess, type RegistryFlags } from "./registry-options.ts";
import { countOf, formatLocation } from "./units.ts";

interface PinFlags extends RegistryFlags {
  readonly inPlace: boolean;
  readonly from?: string;
}

type DigestLookup = (image: string, reference: ImageReference) => string | undefined;

/** Digests from a locked ImageSet: by the image's exact string, else by the tag the runtime resolves. */
async function digestsFromSet(file: string): Promise<DigestLookup> {
  const state = await loadDesiredState([file]);
  const exact = new Map(state.entries.flatMap((e) => (e.digest === undefined ? [] : [[e.image, e.digest]])));
  const byTag = new WarmedImages(state.entries);
  return (image, reference) => exact.get(image) ?? byTag.digestOfTag(reference);
}

async function digestsFromRegistry(
  containers: readonly ScannedImage[],
  flags: PinFlags,
  report: (line: string) => void,
): Promise<DigestLookup> {
  const unpinned = new Map(
    containers
      .filter((c) => c.reference !== undefined && c.reference.digest === undefined)
      .map((c) => [c.image, c.reference]),
  );
  const digests = new Map<string, string>();
  const registry = await openRegistryAccess(flags);
  const queue = new PQueue({ concurrency: 16 });
  try {
    await Promise.all(
      [...unpinned].map(([image, reference]) =>
        queue.add(async () => {
          if (reference === undefined) return;
          try {
            digests.set(image, (await registry.client.resolve(withDefaultTag(reference))).digest);
          } catch (error) {
            report(
              failureLine(image, isClassifiedError(error) ? error.kind : undefined, errorMessage(error)),
            );
          }
        }),
      ),
    );
  } finally {
    await registry.client.close();
  }
  return (image) => digests.get(image);
}

export function pinCommand(context: CliContext): Command {
  const command = new Command("pin")
    .summary("rewrite manifests' images to name:tag@digest, keeping comments and layout")
    .description(
      "Pin every image a pod pulls that has no digest (containers' image: and image volumes' reference:) " +
        "to the digest its tag points at now (asked from the registry), or offline from a locked ImageSet " +
        "(--from). Only those values change. Without " +
        "--in-place the result goes to stdout; a summary of changes goes to stderr.\n\n" +
        "Exit status: 0, 1 when an image could not be pinned, 2 on unreadable or malformed input.",
    )
    .argument("<manifest...>", "manifest files, directories, or - for stdin")
    .addOption(new Option("-i, --in-place", "rewrite the files themselves").default(false))
    .addOption(
      new Option("--from <imageset>", "take digests from this locked ImageSet instead of the registry"),
    );
  addRegistryOptions(command);
  return command.action(async (paths: string[], flags: PinFlags) => {
    if (flags.inPlace && paths.includes("-")) throw new UsageError("--in-place cannot rewrite stdin");
    const sources = await readManifestSources(paths, context.io.stdin);
    const scan = scanManifests(sources);
    if (scan.errors.length > 0) {
      for (const error of scan.errors) {
        context.io.stderr.write(
          errorLine("input", `${formatLocation(error.file, error.line)}: ${error.message}`),
        );
      }
      context.exitCode = ExitCode.usage;
      return;
    }
    const problems: string[] = [];
    const digestOf =
      flags.from === undefined
        ? await digestsFromRegistry(scan.images, flags, (line) => problems.push(line))
        : await digestsFromSet(flags.from);
    const references = new Map(scan.images.map((c) => [c.image, c.reference]));
    const lookup = (image: string): string | undefined => {
      const reference = references.get(image);
      return reference === undefined ? undefined : digestOf(image, reference);
    };
    const outputs: string[] = [];
    let changed = 0;
    for (const source of sources) {
      const result = pinManifest(source.text, lookup);
      changed += result.changes.length;
      for (const change of result.changes) {
        context.io.stderr.write(`${source.name}:${change.line ?? "?"}: ${change.from} -> ${change.to}\n`);
      }
      for (const skip of result.skipped) {
        problems.push(`${source.name}:${skip.line ?? "?"}: ${skip.image} not pinned: ${skip.reason}\n`);
      }
      if (flags.inPlace) {
        if (result.text !== source.text) await writeFile(source.name, result.text);
      } else {
        outputs.push(result.text);
      }
    }
    if (!flags.inPlace)
      context.io.stdout.write(outputs.join(outputs.every((o) => o.endsWith("\n")) ? "---\n" : "\n---\n"));
    // Report lines, one per image, like warm's: `IMAGE: KIND: message` or `file:line: IMAGE not pinned: why`.
    for (const problem of problems) context.io.stderr.write(problem);
    context.io.stderr.write(`${countOf(changed, "image")} pinned${flags.inPlace ? " in place" : ""}\n`);
    context.exitCode = problems.length > 0 ? ExitCode.failed : ExitCode.ok;
  });
}
