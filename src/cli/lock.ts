import { writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import PQueue from "p-queue";
import { InputError, isClassifiedError } from "../failure/index.ts";
import {
  checkLock,
  lockImageSet,
  mergeImageSets,
  parseImageSet,
  readBoundedFile,
  selectEntries,
  type DesiredState,
  type LockCheck,
} from "../imageset/index.ts";
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
  readonly update: boolean;
  readonly allowUnlocked: boolean;
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
        "points at, and write `digest:` into the set, keeping comments and layout. A locked digest is " +
        "never changed unless --update accepts what the tag points at now, for every entry or the IMAGEs " +
        "named. With --check, change nothing: exit 1 if a locked tag now points elsewhere (drift) or an " +
        "entry has no digest at all (unless --allow-unlocked).\n\n" +
        "Exit status: 0 locked (or check passed), 1 drift, unlocked entries or resolution failures, 2 " +
        "usage or invalid files.",
    )
    .argument("<imageset>", "ImageSet file to lock")
    .argument(
      "[image...]",
      "with --update: only these entries (a repository without a tag names all its tags)",
    )
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
    .addOption(
      new Option("--check", "report drift and unlocked entries, write nothing")
        .default(false)
        .conflicts("update"),
    )
    .addOption(
      new Option("--update", "accept the digest each tag points at now, replacing locked ones").default(
        false,
      ),
    )
    .addOption(
      new Option("--allow-unlocked", "with --check: entries without a digest do not fail").default(false),
    )
    .addOption(positiveIntegerOption("-c, --concurrency <n>", "registry requests at once", 32))
    .addOption(
      new Option("--output <format>", "format of the results").choices(["text", "json"]).default("text"),
    );
  addRegistryOptions(command);
  return command.action(async (file: string, images: string[], flags: LockFlags) => {
    if (images.length > 0 && !flags.update) {
      throw new UsageError(`lock names entries only with --update; got ${images.join(" ")}`);
    }
    if (flags.allowUnlocked && !flags.check) throw new UsageError("--allow-unlocked goes with --check");
    // Loading the registry client and its credentials overlaps with reading the set.
    const opening = openRegistryAccess(flags);
    opening.catch(() => undefined);
    let text: string;
    let desired: DesiredState;
    let update: ((image: string) => boolean) | undefined;
    try {
      text = (await readBoundedFile(file)).text;
      desired = mergeImageSets(parseImageSet(text, file));
      if (flags.update)
        update = images.length > 0 ? selectEntries(desired.entries, images, file) : () => true;
    } catch (error) {
      if (error instanceof InputError) throw new UsageError(error.message);
      throw error;
    }
    // --check asks about locked entries that carry a tag; lock about entries with no digest yet,
    // and --update also about the locked entries it accepts new digests for.
    const entries = desired.entries.filter((e) =>
      flags.check
        ? e.digest !== undefined && effectiveTag(e.reference) !== undefined
        : update === undefined
          ? e.digest === undefined
          : update(e.image) && e.reference.digest === undefined,
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
      const check = checkLock(desired.entries, resolved, { allowUnlocked: flags.allowUnlocked });
      context.io.stdout.write(
        flags.output === "json"
          ? JSON.stringify({ drift: check.drift, unlocked: check.unlocked, failures }, null, 2) + "\n"
          : checkReport(entries.length, check, flags.allowUnlocked) + failureLines(failures),
      );
      context.exitCode = check.passed && failures.length === 0 ? ExitCode.ok : ExitCode.failed;
      return;
    }

    const locked = lockImageSet(text, file, resolved, update === undefined ? {} : { update });
    const target = flags.out ?? file;
    if (target === "-") context.io.stdout.write(locked.text);
    else if (locked.text !== text || target !== file) await writeFile(target, locked.text);
    const report = locked.changed.map((c) => [c.image, c.digest, c.previous ?? "-"]);
    const destination = target === "-" ? context.io.stderr : context.io.stdout;
    destination.write(
      flags.output === "json"
        ? JSON.stringify({ file: target, locked: locked.changed, failures }, null, 2) + "\n"
        : (report.length > 0 ? formatTable(["IMAGE", "DIGEST", "REPLACED"], report) : "") +
            `${locked.changed.length} entr${locked.changed.length === 1 ? "y" : "ies"} locked in ${target === "-" ? "stdout" : target}\n` +
            failureLines(failures),
    );
    context.exitCode = failures.length > 0 ? ExitCode.failed : ExitCode.ok;
  });
}

function checkReport(locked: number, check: LockCheck, allowUnlocked: boolean): string {
  const lines: string[] = [];
  if (check.drift.length > 0) {
    lines.push(
      formatTable(
        ["IMAGE", "LOCKED", "REGISTRY NOW"],
        check.drift.map((d) => [d.image, d.locked, d.current]),
      ).trimEnd(),
      "accept the new digests with: prepull lock --update IMAGESET [IMAGE...]",
    );
  } else {
    lines.push(`${locked} locked entr${locked === 1 ? "y" : "ies"}: no drift`);
  }
  if (check.unlocked.length > 0) {
    lines.push(
      `${check.unlocked.length} entr${check.unlocked.length === 1 ? "y has" : "ies have"} no digest` +
        `${allowUnlocked ? " (allowed)" : "; lock them with prepull lock, or pass --allow-unlocked"}:`,
      ...check.unlocked.map((image) => `  ${image}`),
    );
  }
  return lines.join("\n") + "\n";
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
