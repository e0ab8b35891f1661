import { writeFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { loadDesiredState } from "../imageset/index.ts";
import {
  digestsFromEntries,
  pinSources,
  readManifestSources,
  resolveImageDigests,
  scanManifests,
  type DigestLookup,
} from "../manifests/index.ts";
import { ExitCode, UsageError, type CliContext } from "./context.ts";
import { errorLine, failureLine } from "./failure-text.ts";
import {
  addRegistryOptions,
  digestResolver,
  openRegistryAccess,
  type RegistryFlags,
} from "./registry-options.ts";
import { countOf, formatLocation } from "./units.ts";

interface PinFlags extends RegistryFlags {
  readonly inPlace: boolean;
  readonly from?: string;
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
    let digestOf: DigestLookup;
    if (flags.from === undefined) {
      const registry = await openRegistryAccess(flags);
      const resolved = await resolveImageDigests(scan.images, digestResolver(registry.client)).finally(() =>
        registry.client.close(),
      );
      problems.push(...resolved.failures.map((f) => failureLine(f.image, f.kind, f.message)));
      digestOf = resolved.digestOf;
    } else {
      digestOf = digestsFromEntries((await loadDesiredState([flags.from])).entries);
    }
    const outputs: string[] = [];
    let changed = 0;
    for (const { source, result } of pinSources(sources, scan.images, digestOf)) {
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
