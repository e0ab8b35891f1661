import { readFile, writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import PQueue from "p-queue";
import { isClassifiedError } from "../failure/index.ts";
import { findDrift, ImageSetError, lockImageSet, parseImageSet, mergeImageSets } from "../imageset/index.ts";
import { formatReference } from "../reference/index.ts";
import { effectiveTag } from "../warm/index.ts";
import type { RegistryClient } from "../registry/index.ts";
import { ExitCode, UsageError, type CliContext } from "./context.ts";
import { addRegistryOptions, openRegistryAccess, type RegistryFlags } from "./registry-options.ts";
import { positiveIntegerOption } from "./options.ts";
import { formatTable } from "./table.ts";

interface LockFlags extends RegistryFlags {
  readonly output: "text" | "json";
  readonly out?: string;
  readonly check: boolean;
  readonly concurrency: number;
}

interface Failure {
  readonly image: string;
  readonly kind: string;
  readonly message: string;
}

export function lockCommand(context: CliContext): Command {
  const command = new Command("lock")
    .summary("resolve the tags of an ImageSet to digests and write them in")
    .description(
      "Ask each registry (with the node's credentials and mirrors) which digest every tag-only entry " +
        "points at, and write `digest:` into the set, keeping comments and layout. With --check, change " +
        "nothing: list entries whose tag now points elsewhere (drift) and exit 1 if there are any.\n\n" +
        "Exit status: 0 locked (or no drift), 1 drift or resolution failures, 2 usage or invalid files.",
    )
    .argument("<imageset>", "ImageSet file to lock")
    .addOption(
      new Option(
        "-o, --out <file>",
        "write the locked set here instead of in place (- for stdout)",
      ).argParser((value: string) => {
        if (value === "text" || value === "json") {
          throw new InvalidArgumentError(
            `lock's -o names a file; for ${value} results use --output ${value}`,
          );
        }
        return value;
      }),
    )
    .addOption(new Option("--check", "report drift of locked entries, write nothing").default(false))
    .addOption(positiveIntegerOption("-c, --concurrency <n>", "registry requests at once", 32))
    .addOption(
      new Option("--output <format>", "format of the results").choices(["text", "json"]).default("text"),
    );
  addRegistryOptions(command);
  return command.action(async (file: string, flags: LockFlags) => {
    // Loading the registry client and its credentials overlaps with reading the set.
    const opening = openRegistryAccess(flags);
    opening.catch(() => undefined);
    const text = await readSetFile(file);
    let desired;
    try {
      desired = mergeImageSets(parseImageSet(text, file));
    } catch (error) {
      if (error instanceof ImageSetError) throw new UsageError(error.message);
      throw error;
    }
    // --check looks at locked entries that carry a tag; lock at entries with no digest yet.
    const entries = desired.entries.filter((e) =>
      flags.check
        ? e.digest !== undefined && effectiveTag(e.reference) !== undefined
        : e.digest === undefined,
    );
    const registry = await opening;
    const { resolved, failures } = await resolveAll(
      registry.client,
      entries.map((e) => ({
        image: e.image,
        reference: { ...e.reference, tag: effectiveTag(e.reference), digest: undefined },
      })),
      flags.concurrency,
    ).finally(() => registry.client.close());

    if (flags.check) {
      const drift = findDrift(entries, resolved);
      context.io.stdout.write(
        flags.output === "json"
          ? JSON.stringify({ drift, failures }, null, 2) + "\n"
          : drift.length === 0 && failures.length === 0
            ? `${entries.length} locked entr${entries.length === 1 ? "y" : "ies"}: no drift\n`
            : formatTable(
                ["IMAGE", "LOCKED", "REGISTRY NOW"],
                drift.map((d) => [d.image, d.locked, d.current]),
              ) + failureLines(failures),
      );
      context.exitCode = drift.length > 0 || failures.length > 0 ? ExitCode.failed : ExitCode.ok;
      return;
    }

    const locked = lockImageSet(text, file, resolved);
    const target = flags.out ?? file;
    if (target === "-") context.io.stdout.write(locked.text);
    else if (locked.text !== text || target !== file) await writeFile(target, locked.text);
    const report = locked.changed.map((c) => [c.image, c.digest]);
    const destination = target === "-" ? context.io.stderr : context.io.stdout;
    destination.write(
      flags.output === "json"
        ? JSON.stringify({ file: target, locked: locked.changed, failures }, null, 2) + "\n"
        : (report.length > 0 ? formatTable(["IMAGE", "DIGEST"], report) : "") +
            `${locked.changed.length} entr${locked.changed.length === 1 ? "y" : "ies"} locked in ${target === "-" ? "stdout" : target}\n` +
            failureLines(failures),
    );
    context.exitCode = failures.length > 0 ? ExitCode.failed : ExitCode.ok;
  });
}

async function readSetFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(
      `${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error)}`,
    );
  }
}

function failureLines(failures: readonly Failure[]): string {
  return failures.map((f) => `${f.image}: ${f.kind}: ${f.message}\n`).join("");
}

async function resolveAll(
  client: RegistryClient,
  items: ReadonlyArray<{ image: string; reference: Parameters<RegistryClient["resolve"]>[0] }>,
  concurrency: number,
): Promise<{ resolved: Map<string, string>; failures: Failure[] }> {
  const resolved = new Map<string, string>();
  const failures: Failure[] = [];
  const queue = new PQueue({ concurrency });
  await Promise.all(
    items.map((item) =>
      queue.add(async () => {
        try {
          resolved.set(item.image, (await client.resolve(item.reference)).digest);
        } catch (error) {
          failures.push({
            image: item.image,
            kind: isClassifiedError(error) ? error.kind : "network",
            message:
              error instanceof Error ? error.message : `${formatReference(item.reference)}: ${String(error)}`,
          });
        }
      }),
    ),
  );
  return { resolved, failures };
}
