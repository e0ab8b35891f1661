import { writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import PQueue from "p-queue";
import { errorMessage, InputError, isClassifiedError } from "../failure/index.ts";
import {
  checkLock,
  listImageSetFiles,
  lockImageSet,
  mergeImageSets,
  parseImageSet,
  readBoundedFile,
  selectEntries,
  type ImageSetEntry,
} from "../imageset/index.ts";
import { effectiveTag, withDefaultTag } from "../reference/index.ts";
import type { RegistryClient } from "../registry/index.ts";
import { ExitCode, UsageError, type CliContext } from "./context.ts";
import { failureLine } from "./failure-text.ts";
import { addRegistryOptions, openRegistryAccess, type RegistryFlags } from "./registry-options.ts";
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

interface Failure {
  readonly image: string;
  readonly kind: string;
  readonly message: string;
}

/** Locked entries `--update` re-resolves: all of them, or those the IMAGE arguments name. */
function entriesToUpdate(
  entries: readonly ImageSetEntry[],
  images: readonly string[],
  path: string,
): ImageSetEntry[] {
  const movable = (entry: ImageSetEntry): boolean =>
    entry.digest !== undefined && entry.reference.digest === undefined;
  if (images.length === 0) return entries.filter(movable);
  return images.flatMap((image) => {
    const selected = selectEntries(entries, [image], path);
    const named = entries.filter((entry) => selected(entry.image));
    const pinned = named.find((entry) => entry.reference.digest !== undefined);
    if (pinned !== undefined) {
      throw new InputError(
        `${image}: the digest is part of the image string pods use; change it there (prepull pin) and in the set`,
        { reference: image, source: pinned.sources[0] },
      );
    }
    return named.filter(movable);
  });
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
    const texts = await Promise.all(files.map(async (file) => (await readBoundedFile(file)).text));
    const desired = mergeImageSets(files.flatMap((file, index) => parseImageSet(texts[index] ?? "", file)));
    const unlocked = desired.entries.filter((e) => e.digest === undefined);
    // --check looks at locked entries that carry a tag (kubelet's default included).
    const locked = desired.entries.filter(
      (e) => e.digest !== undefined && effectiveTag(e.reference) !== undefined,
    );
    const updating = flags.update ? entriesToUpdate(desired.entries, images, path) : [];
    const asked = flags.check ? locked : [...unlocked, ...updating];
    const registry = await opening;
    const { resolved, failures } = await resolveAll(registry.client, asked, flags.concurrency).finally(() =>
      registry.client.close(),
    );
    const wide = flags.output === "wide";
    const digest = wide ? (d: string): string => d : shortDigest;
    const fit = wide ? {} : { maxWidth: TABLE_WIDTH };

    if (flags.check) {
      const {
        drift,
        unlocked: notLocked,
        passed,
      } = checkLock(flags.allowUnlocked ? locked : [...locked, ...unlocked], resolved);
      const clean = passed && failures.length === 0;
      context.io.stdout.write(
        flags.output === "json"
          ? JSON.stringify({ drift, unlocked: notLocked, failures }, null, 2) + "\n"
          : clean
            ? `${entryCount(locked.length, "locked ")}: no drift\n`
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

    const written: Array<{ file: string; image: string; digest: string; previous?: string }> = [];
    const toUpdate = new Set(updating.map((entry) => entry.image));
    for (const [index, file] of files.entries()) {
      const text = texts[index] ?? "";
      // Only what was asked is in `resolved`: the unlocked entries and those to update.
      const locked = lockImageSet(text, file, resolved, { update: (image) => toUpdate.has(image) });
      written.push(...locked.changed.map((change) => ({ file, ...change })));
      const target = flags.out ?? file;
      if (target === "-") context.io.stdout.write(locked.text);
      else if (locked.text !== text || target !== file) await writeFile(target, locked.text);
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

async function resolveAll(
  client: RegistryClient,
  entries: readonly ImageSetEntry[],
  concurrency: number,
): Promise<{ resolved: Map<string, string>; failures: Failure[] }> {
  const resolved = new Map<string, string>();
  const failures: Failure[] = [];
  const queue = new PQueue({ concurrency });
  await Promise.all(
    entries.map((entry) =>
      queue.add(async () => {
        // The tag (kubelet's default included) is what moves; the locked digest is what it is checked against.
        const reference = { ...withDefaultTag(entry.reference), digest: undefined };
        try {
          resolved.set(entry.image, (await client.resolve(reference)).digest);
        } catch (error) {
          failures.push({
            image: entry.image,
            kind: isClassifiedError(error) ? error.kind : "network",
            message: errorMessage(error),
          });
        }
      }),
    ),
  );
  return { resolved, failures };
}
