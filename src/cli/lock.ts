import { writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import {
  checkLockPlan,
  listImageSetFiles,
  lockSetFiles,
  planLock,
  readBoundedFile,
  resolveTags,
} from "../imageset/index.ts";
import { ExitCode, UsageError, type CliContext } from "./context.ts";
import { failureLine } from "./failure-text.ts";
import {
  addRegistryOptions,
  digestResolver,
  openRegistryAccess,
  type RegistryFlags,
} from "./registry-options.ts";
import { positiveIntegerOption } from "./options.ts";
import { formatTable, shortDigest, TABLE_WIDTH } from "./table.ts";

function entryCount(count: number, what = ""): string {
  return `${String(count)} ${what}entr${count === 1 ? "y" : "ies"}`;
}

interface LockFlags extends RegistryFlags {
  readonly output: "text" | "wide" | "json";
  readonly out?: string;
  readonly check: boolean;
  readonly update: boolean;
  readonly allowUnlocked: boolean;
  readonly concurrency: number;
}

export function lockCommand(context: CliContext): Command {
  const command = new Command("lock")
    .summary("resolve the tags of ImageSets to digests and write them in")
    .description(
      "Ask each registry (with the node's credentials and mirrors) which digest every tag-only entry " +
        "points at, and write `digest:` into the set, keeping comments and layout. IMAGESET is a file or " +
        "a directory of set files, as for --config.\n\n" +
        "--update also re-resolves locked entries (all, or the IMAGEs named) and writes the digest their " +
        "tag points at now: the way to accept a drifted tag. --check changes nothing: it lists locked " +
        "entries whose tag now points elsewhere and entries not locked at all, and exits 1 if there are " +
        "any (--allow-unlocked lets unlocked entries pass).\n\n" +
        "Exit status: 0 locked (or nothing to report), 1 drift, unlocked entries or resolution failures, " +
        "2 usage or invalid files.",
    )
    .argument("<imageset>", "ImageSet file or directory to lock")
    .argument("[image...]", "with --update: only these entries, written as in the set")
    .addOption(
      new Option(
        "-o, --out <file>",
        "write the locked set here instead of in place (- for stdout); one set file only",
      ).argParser((value: string) => {
        if (value === "text" || value === "json" || value === "wide") {
          throw new InvalidArgumentError(
            `lock's -o names a file; for ${value} results use --output ${value}`,
          );
        }
        return value;
      }),
    )
    .addOption(new Option("--check", "report drift and unlocked entries, write nothing").default(false))
    .addOption(
      new Option("--update", "also move locked entries to the digest their tag points at now").default(false),
    )
    .addOption(
      new Option("--allow-unlocked", "with --check: entries without a digest do not fail the check").default(
        false,
      ),
    )
    .addOption(positiveIntegerOption("-c, --concurrency <n>", "registry requests at once", 32))
    .addOption(
      new Option("--output <format>", "format of the results")
        .choices(["text", "wide", "json"])
        .default("text"),
    );
  addRegistryOptions(command);
  return command.action(async (path: string, images: string[], flags: LockFlags) => {
    if (images.length > 0 && !flags.update) {
      throw new UsageError("IMAGE arguments name the entries --update re-resolves; add --update");
    }
    if (flags.check && flags.update) throw new UsageError("--check writes nothing: give --check or --update");
    if (flags.allowUnlocked && !flags.check) throw new UsageError("--allow-unlocked goes with --check");
    // Loading the registry client and its credentials overlaps with reading the sets.
    const opening = openRegistryAccess(flags);
    opening.catch(() => undefined);
    const files = (await listImageSetFiles([path])).map((listed) => listed.file);
    if (flags.out !== undefined && files.length !== 1) {
      throw new UsageError(`--out takes one set file; ${path} holds ${String(files.length)}`);
    }
    const sets = await Promise.all(
      files.map(async (file) => ({ file, text: (await readBoundedFile(file)).text })),
    );
    const plan = planLock(sets, { check: flags.check, update: flags.update, images, path });
    const registry = await opening;
    const { resolved, failures } = await resolveTags(
      plan.asked,
      digestResolver(registry.client),
      flags.concurrency,
    ).finally(() => registry.client.close());
    const wide = flags.output === "wide";
    const digest = wide ? (d: string): string => d : shortDigest;
    const fit = wide ? {} : { maxWidth: TABLE_WIDTH };

    if (flags.check) {
      const {
        drift,
        unlocked: notLocked,
        passed,
      } = checkLockPlan(plan, resolved, { allowUnlocked: flags.allowUnlocked });
      const clean = passed && failures.length === 0;
      context.io.stdout.write(
        flags.output === "json"
          ? JSON.stringify({ drift, unlocked: notLocked, failures }, null, 2) + "\n"
          : clean
            ? `${entryCount(plan.locked.length, "locked ")}: no drift\n`
            : (drift.length > 0
                ? formatTable(
                    ["IMAGE", "LOCKED", "REGISTRY NOW"],
                    drift.map((d) => [d.image, digest(d.locked), digest(d.current)]),
                    fit,
                  ) + `to accept: prepull lock --update ${path} ${drift.map((d) => d.image).join(" ")}\n`
                : "") +
              notLocked
                .map((image) => failureLine(image, "unlocked", `no digest; run prepull lock ${path}`))
                .join("") +
              failures.map((f) => failureLine(f.image, f.kind, f.message)).join(""),
      );
      context.exitCode = clean ? ExitCode.ok : ExitCode.failed;
      return;
    }

    const { files: locked, written } = lockSetFiles(sets, plan, resolved);
    for (const { file, text, edited } of locked) {
      const target = flags.out ?? file;
      if (target === "-") context.io.stdout.write(text);
      else if (edited || target !== file) await writeFile(target, text);
    }
    const where = flags.out === "-" ? "stdout" : (flags.out ?? path);
    const destination = flags.out === "-" ? context.io.stderr : context.io.stdout;
    destination.write(
      flags.output === "json"
        ? JSON.stringify(
            { files: flags.out === undefined ? files : [flags.out], written, failures },
            null,
            2,
          ) + "\n"
        : (written.length > 0
            ? formatTable(
                ["IMAGE", "DIGEST", "WAS"],
                written.map((w) => [
                  w.image,
                  digest(w.digest),
                  w.previous === undefined ? "-" : digest(w.previous),
                ]),
                fit,
              )
            : "") +
            `${entryCount(written.length)} written in ${where}\n` +
            failures.map((f) => failureLine(f.image, f.kind, f.message)).join(""),
    );
    context.exitCode = failures.length > 0 ? ExitCode.failed : ExitCode.ok;
  });
}
