import { Command, Option } from "commander";
import {
  desiredStateFromImages,
  ImageSetError,
  loadDesiredState,
  type DesiredState,
} from "../imageset/index.ts";
import { InvalidReferenceError } from "../reference/index.ts";
import { createDiskGuard, imageFilesystemOf, warmOnce, type EntryResult } from "../warm/index.ts";
import { ExitCode, UsageError, type CliContext } from "./context.ts";
import { addDiskGuardOptions, type DiskFlags } from "./disk-options.ts";
import { addRegistryOptions, openRegistryAccess, type RegistryFlags } from "./registry-options.ts";
import {
  addRuntimeOptions,
  durationOption,
  outputOption,
  positiveIntegerOption,
  type RuntimeFlags,
} from "./options.ts";
import { formatTable } from "./table.ts";
import { formatBytes, formatSeconds } from "./units.ts";

interface WarmFlags extends RuntimeFlags, RegistryFlags, DiskFlags {
  readonly config?: string[];
  readonly concurrency: number;
  readonly timeout: number;
  readonly output: "text" | "json";
}

export function warmCommand(context: CliContext): Command {
  const command = new Command("warm")
    .summary("pull images onto this node now, by digest, under the names pods use")
    .description(
      "Warm images on this node once and report. Each IMAGE is written exactly as pods write it " +
        "(name[:tag][@digest]). Present images are not pulled again; name:tag@digest pulls the digest and " +
        "records the tag only if the registry's tag still points at that digest.\n\n" +
        "Exit status: 0 when every image is present, 1 when any failed or drifted, 2 on usage errors.",
    )
    .argument("[image...]", "image references as pods write them")
    .addOption(new Option("--config <path...>", "warm the ImageSet files or directories instead"))
    .addOption(positiveIntegerOption("-c, --concurrency <n>", "pulls at once", 2))
    .addOption(durationOption("-t, --timeout <duration>", "deadline for each pull (e.g. 90s, 10m)", "10m"))
    .addOption(outputOption());
  addRuntimeOptions(command);
  addRegistryOptions(command);
  addDiskGuardOptions(command);
  return command.action(async (images: string[], flags: WarmFlags) => {
    const desired = await desiredState(images, flags.config);
    const [{ connectRuntime }, { pullAuthFrom }] = await Promise.all([
      import("./runtime.ts"),
      import("../registry/index.ts"),
    ]);
    const runtime = connectRuntime(flags, context.io.env, { pullTimeoutMs: flags.timeout });
    const registry = await openRegistryAccess(flags);
    const progress = context.io.stderr.isTTY === true && flags.output === "text";
    let done = 0;
    try {
      const results = await warmOnce(desired.entries, {
        runtime,
        concurrency: flags.concurrency,
        pullTimeoutMs: flags.timeout,
        diskGuard: createDiskGuard({
          threshold: flags.diskThreshold / 100,
          mountpoint: imageFilesystemOf(runtime, flags.imageFsPath),
          onUnavailable: (message) => context.io.stderr.write(`warning: ${message}\n`),
        }),
        resolveTag: async (reference, signal) =>
          (await registry.client.resolve(reference, signal ? { signal } : {})).digest,
        sizeOf: async (reference, signal) =>
          (await registry.client.resolve(reference, { withSize: true, signal })).platformSize,
        authFor: pullAuthFrom(registry.keyring),
        onResult: (result) => {
          done += 1;
          if (progress) {
            context.io.stderr.write(
              `[${done}/${desired.entries.length}] ${result.outcome.padEnd(7)} ${result.image} (${formatSeconds(result.seconds)})\n`,
            );
          }
        },
      });
      context.io.stdout.write(flags.output === "json" ? formatJson(results) : formatText(results));
      context.exitCode = results.every((r) => r.outcome === "present" || r.outcome === "pulled")
        ? ExitCode.ok
        : ExitCode.failed;
    } finally {
      runtime.close();
      await registry.client.close();
    }
  });
}

async function desiredState(images: string[], config: string[] | undefined): Promise<DesiredState> {
  if (images.length > 0 === (config !== undefined)) {
    throw new UsageError("warm takes either IMAGE arguments or --config PATH, not both and not neither");
  }
  try {
    return config === undefined ? desiredStateFromImages(images) : await loadDesiredState(config);
  } catch (error) {
    if (error instanceof InvalidReferenceError || error instanceof ImageSetError)
      throw new UsageError(error.message);
    throw error;
  }
}

function formatJson(results: readonly EntryResult[]): string {
  const images = results.map((r) => ({
    reference: r.image,
    result: r.outcome,
    digest: r.digest ?? null,
    imageId: r.imageId ?? null,
    size: r.size ?? null,
    seconds: Number(r.seconds.toFixed(3)),
    pulls: r.pulls,
    errorKind: r.errorKind ?? null,
    message: r.message ?? null,
    registryDigest: r.registryDigest ?? null,
  }));
  const warm = results.every((r) => r.outcome === "present" || r.outcome === "pulled");
  return JSON.stringify({ warm, images }, null, 2) + "\n";
}

function shortDigest(digest: string | undefined): string {
  if (digest === undefined) return "-";
  const [algorithm, hex = ""] = digest.split(":");
  return `${algorithm ?? ""}:${hex.slice(0, 12)}`;
}

function formatText(results: readonly EntryResult[]): string {
  const rows = results.map((r) => [
    r.image,
    r.outcome,
    shortDigest(r.digest),
    formatBytes(r.size),
    formatSeconds(r.seconds),
  ]);
  const details = results
    .filter((r) => r.message !== undefined)
    .map((r) => `${r.image}: ${r.errorKind === undefined ? "" : `${r.errorKind}: `}${r.message ?? ""}\n`);
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  const summary = [...counts].map(([outcome, n]) => `${n} ${outcome}`).join(", ");
  return (
    formatTable(["IMAGE", "RESULT", "DIGEST", "SIZE", "TIME"], rows) +
    (details.length > 0 ? "\n" + details.join("") : "") +
    `\n${results.length} image${results.length === 1 ? "" : "s"}: ${summary}\n`
  );
}
