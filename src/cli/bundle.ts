import { rm, stat } from "node:fs/promises";
import { Command, Option } from "commander";
import type { BundleEntry, BundleResult, PlatformChoice } from "../bundle/index.ts";
import { InputError } from "../failure/index.ts";
import {
  listImageSetFiles,
  mergeImageSets,
  parseImageSet,
  readBoundedFile,
  type ImageSetDocument,
} from "../imageset/index.ts";
import { ExitCode, UsageError, type CliContext } from "./context.ts";
import { progressPrinter } from "./bundle-progress.ts";
import { positiveIntegerOption, repeatableOption } from "./options.ts";
import { addRegistryOptions, openRegistryAccess, type RegistryFlags } from "./registry-options.ts";
import { formatTable, shortDigest, TABLE_WIDTH } from "./table.ts";
import { countOf, formatBytes } from "./units.ts";

interface BundleFlags extends RegistryFlags {
  readonly out: string;
  readonly archive: boolean;
  readonly platform?: string[];
  readonly allPlatforms: boolean;
  readonly concurrency: number;
}

/** Unlocked entries listed in the error before "and N more". */
const UNLOCKED_SHOWN = 5;

/** The entries of the sets at `paths`, every one locked; an unlocked one is an input error. */
async function lockedEntries(paths: readonly string[]): Promise<BundleEntry[]> {
  const files = (await listImageSetFiles(paths)).map((listed) => listed.file);
  if (files.length === 0) {
    throw new InputError(`${paths.join(", ")}: no ImageSet files (*.yaml, *.yml, *.json) found`, {
      source: paths.join(", "),
    });
  }
  const documents: ImageSetDocument[] = [];
  for (const file of files) documents.push(...parseImageSet((await readBoundedFile(file)).text, file));
  const { entries } = mergeImageSets(documents);
  if (entries.length === 0) {
    throw new InputError(`${files.join(", ")}: no images to bundle (spec.images is empty)`, {
      source: files.join(", "),
      field: "spec.images",
    });
  }
  const unlocked = entries.filter((entry) => entry.digest === undefined);
  if (unlocked.length > 0) {
    const filesOf = new Set(
      documents
        .filter((d) => d.entries.some((e) => unlocked.some((u) => u.image === e.image)))
        .map((d) => d.file),
    );
    const listed = unlocked
      .slice(0, UNLOCKED_SHOWN)
      .map((entry) => `${entry.sources.join(", ")}: ${entry.image}`)
      .join("; ");
    const more = unlocked.length > UNLOCKED_SHOWN ? ` and ${unlocked.length - UNLOCKED_SHOWN} more` : "";
    throw new InputError(
      `${entryCount(unlocked.length)} not locked (no digest), so there is nothing to pack by digest: ${listed}${more}; lock first: ${[...filesOf].map((file) => `prepull lock ${file}`).join(", ")}`,
      { source: [...filesOf].join(", ") },
    );
  }
  return entries.map((entry) => ({
    image: entry.image,
    reference: entry.reference,
    digest: entry.digest ?? "",
  }));
}

async function platformChoice(flags: BundleFlags): Promise<PlatformChoice> {
  const { DEFAULT_CHOICE, parsePlatform } = await import("../bundle/index.ts");
  if (flags.allPlatforms) {
    if (flags.platform !== undefined)
      throw new UsageError("--all-platforms takes every platform: drop --platform");
    return { all: true };
  }
  if (flags.platform === undefined || flags.platform.length === 0) return DEFAULT_CHOICE;
  return { all: false, platforms: flags.platform.map(parsePlatform) };
}

function entryCount(count: number): string {
  return `${String(count)} entr${count === 1 ? "y" : "ies"}`;
}

function summary(result: BundleResult, out: string): string {
  const rows = result.entries.map((entry) => [
    entry.name,
    shortDigest(entry.descriptor.digest),
    entry.platforms.length > 0 ? entry.platforms.join(",") : "-",
    formatBytes(entry.bytes),
  ]);
  const kept = result.digests.length - result.fetchedBlobs;
  return (
    formatTable(["NAME", "DIGEST", "PLATFORMS", "SIZE"], rows, { maxWidth: TABLE_WIDTH }) +
    `\n${entryCount(result.entries.length)}, ${countOf(result.digests.length, "blob")}, ` +
    `${formatBytes(result.bytes)} in ${out}` +
    (result.platforms.length > 0 ? ` (platforms ${result.platforms.join(", ")})` : "") +
    `; fetched ${countOf(result.fetchedBlobs, "blob")} ` +
    `(${formatBytes(result.fetchedBytes)}), ${kept} already there (verified)\n`
  );
}

export function bundleCommand(context: CliContext): Command {
  const command = new Command("bundle")
    .summary("pack locked ImageSets into an OCI image layout for sites without a registry")
    .description(
      "Fetch every entry of the ImageSets by its locked digest and write an OCI image layout at PATH: " +
        "a directory, or one tar file with --archive. Each entry is stored under the full name pods use " +
        "(docker.io/library/busybox:1.36, or name@digest for an entry without a tag), in index.json's " +
        "org.opencontainers.image.ref.name and io.containerd.image.name annotations, so " +
        "`ctr images import PATH` and `skopeo copy oci-archive:PATH:NAME` find it. Every entry must be " +
        "locked (prepull lock FILE). Registries are reached as lock reaches them: the same credentials, " +
        "mirrors, hosts.toml and CAs.\n\n" +
        "Of a multi-platform image the index is kept as it is (its digest stays) with the manifests of " +
        "linux/amd64 and linux/arm64 where present, or of the --platform values, or of every platform " +
        "with --all-platforms; children without a platform (artifacts) always go in. Image volumes and " +
        "other OCI artifacts go in whole.\n\n" +
        "Every blob is verified by digest and size as it is written, and is named blobs/sha256/<hex> only " +
        "once verified. Run again into the same PATH to resume: blobs already there are hashed again and " +
        "kept when right (a damaged one is fetched anew), so only what is missing is downloaded. " +
        "index.json is rewritten to name exactly the entries of this run. With --archive the layout is " +
        "staged in PATH.partial (kept if the run fails, for the next run to resume) and the tar is " +
        "written to PATH.tmp, then renamed to PATH.\n\n" +
        "Exit status: 0 written, 1 a registry or disk failure (the entry is named), 2 usage or input " +
        "errors (bad flags, unreadable or unlocked sets).",
    )
    .argument("<imageset...>", "ImageSet files or directories of them, as for --config")
    .addOption(
      new Option(
        "-o, --out <path>",
        "where to write the layout (a directory, or a tar file with --archive)",
      ).makeOptionMandatory(),
    )
    .addOption(new Option("--archive", "write one tar file at PATH instead of a directory").default(false))
    .addOption(
      repeatableOption(
        "--platform <os/arch[/variant]>",
        "platforms to take from multi-platform images (default: linux/amd64 and linux/arm64)",
        { commas: true },
      ),
    )
    .addOption(new Option("--all-platforms", "take every platform of multi-platform images").default(false))
    .addOption(positiveIntegerOption("-c, --concurrency <n>", "downloads at once", 4));
  addRegistryOptions(command);
  return command.action(async (paths: string[], flags: BundleFlags) => {
    const choice = await platformChoice(flags);
    const out = flags.out;
    const existing = await stat(out).catch(() => undefined);
    if (flags.archive && existing?.isDirectory()) {
      throw new UsageError(`--archive writes a file: ${out} is a directory`);
    }
    const entries = await lockedEntries(paths);
    const [{ writeBundle, writeArchive }, registry] = await Promise.all([
      import("../bundle/index.ts"),
      openRegistryAccess(flags),
    ]);
    const dir = flags.archive ? `${out}.partial` : out;
    const printer = progressPrinter(context.io.stderr);
    let result: BundleResult;
    try {
      result = await writeBundle({
        entries,
        fetcher: registry.client,
        dir,
        choice,
        concurrency: flags.concurrency,
        onProgress: (progress) => {
          printer.update(progress);
        },
      });
      if (flags.archive) {
        let written = 0;
        const last = result;
        await writeArchive(dir, out, result.digests, (bytes) => {
          written += bytes;
          printer.update({
            phase: "archive",
            entriesDone: last.entries.length,
            entries: last.entries.length,
            blobsDone: 0,
            blobs: last.digests.length,
            bytesDone: written,
            bytes: last.bytes,
          });
        });
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      printer.stop();
      await registry.client.close();
    }
    context.io.stdout.write(summary(result, out));
    context.exitCode = ExitCode.ok;
  });
}
