import { Command } from "commander";
import { InputError } from "../failure/index.ts";
import { desiredStateFromImages, loadDesiredState, type DesiredState } from "../imageset/index.ts";
import { createDiskGuard, imageFilesystemOf, warmOnce, type EntryResult } from "../warm/index.ts";
import { ExitCode, UsageError, type CliContext } from "./context.ts";
import { addBundleOptions, openBundleImporter, type BundleFlags } from "./bundle-import.ts";
import { addDiskGuardOptions, type DiskFlags } from "./disk-options.ts";
import { failureLine } from "./failure-text.ts";
import { addRegistryOptions, openRegistryAccess, type RegistryFlags } from "./registry-options.ts";
import {
  addRuntimeOptions,
  durationOption,
  outputOption,
  positiveIntegerOption,
  PULL_TIMEOUT,
  repeatableOption,
  type RuntimeFlags,
} from "./options.ts";
import { formatTable, shortDigest, TABLE_WIDTH } from "./table.ts";
import { formatBytes, formatSeconds, roundSeconds } from "./units.ts";

/** How often a long pull's bytes may be printed. */
const PROGRESS_LINE_MS = 2_000;

interface WarmFlags extends RuntimeFlags, RegistryFlags, DiskFlags, BundleFlags {
  readonly config?: string[];
  readonly concurrency: number;
  readonly pullTimeout: number;
  /** Deprecated spelling of --pull-timeout. */
  readonly timeout?: number;
  readonly output: "text" | "wide" | "json";
}

export function warmCommand(context: CliContext): Command {
  const command = new Command("warm")
    .summary("pull images onto this node now, by digest, under the names pods use")
    .description(
      "Warm images on this node once and report. Each IMAGE is written exactly as pods write it " +
        "(name[:tag][@digest]). Present images are not pulled again; name:tag@digest pulls the digest and " +
        "records the tag only if the registry's tag still points at that digest.\n\n" +
        "With --from, locked entries are imported from bundles (prepull bundle, skopeo oci-archive:, " +
        "ctr images export) through containerd's transfer service first; what no bundle holds is pulled, " +
        "or fails not_found with --offline.\n\n" +
        "Exit status: 0 when every image is present, 1 when any failed or drifted, 2 on usage or input errors.",
    )
    .argument("[image...]", "image references as pods write them")
    .addOption(repeatableOption("--config <path>", "warm an ImageSet file or directory instead"))
    // 4: on realistic images 2 took 1.3× as long and 8 gained 5% (BENCHMARKS.md).
    .addOption(positiveIntegerOption("-c, --concurrency <n>", "pulls at once", 4))
    .addOption(
      durationOption("--pull-timeout <duration>", "deadline for each pull (e.g. 90s, 10m)", PULL_TIMEOUT),
    )
    .addOption(
      durationOption("-t, --timeout <duration>", "deprecated: use --pull-timeout", undefined).hideHelp(),
    )
    .addOption(outputOption(["text", "wide", "json"]));
  addRuntimeOptions(command);
  addRegistryOptions(command);
  addDiskGuardOptions(command);
  addBundleOptions(command, "--from");
  return command.action(async (images: string[], flags: WarmFlags) => {
    const desired = await desiredState(images, flags.config);
    if (flags.timeout !== undefined) {
      context.io.stderr.write("prepull: warning: --timeout is deprecated; use --pull-timeout\n");
    }
    const pullTimeoutMs = flags.timeout ?? flags.pullTimeout;
    const [
      { connectRuntime },
      { pullAuthFrom },
      { createContainerdClient, createImageNamer, PullProgressWatch },
    ] = await Promise.all([
      import("./runtime.ts"),
      import("../registry/index.ts"),
      import("../containerd/index.ts"),
    ]);
    const runtime = connectRuntime(flags, context.io.env, { pullTimeoutMs });
    const registry = await openRegistryAccess(flags);
    // One line per image on stderr, terminal or not (a Job's log shows how far it got), and the
    // bytes of a long pull every few seconds where containerd's content store can tell them.
    const progress = flags.output !== "json";
    const pulling = new Set<string>();
    const importing = flags.from !== undefined;
    // containerd's own API: progress, imports, and a confirmed tag named without a second pull.
    const containerd = createContainerdClient({ endpoint: runtime.endpoint });
    const watch = progress ? new PullProgressWatch(containerd, () => [...pulling]) : undefined;
    let shown = "";
    const printer = setInterval(() => {
      const [only] = pulling;
      const bytes = only === undefined || pulling.size !== 1 ? null : (watch?.entry(only) ?? null);
      const line =
        only === undefined || bytes === null
          ? ""
          : `pulling ${only}: ${formatBytes(bytes.doneBytes)} of ${formatBytes(bytes.totalBytes)}\n`;
      if (line !== "" && line !== shown) context.io.stderr.write(line);
      shown = line;
    }, PROGRESS_LINE_MS).unref();
    watch?.start();
    let done = 0;
    try {
      const warning = (message: string): void => {
        context.io.stderr.write(`warning: ${message}\n`);
      };
      const importer = importing
        ? await openBundleImporter({
            paths: flags.from ?? [],
            store: containerd,
            timeoutMs: pullTimeoutMs,
            onProblem: (problem) => {
              warning(problem.message);
            },
            onUnavailable: warning,
          })
        : undefined;
      const online = !flags.offline;
      const results = await warmOnce(desired.entries, {
        ...(importer ? { importer } : {}),
        offline: !online,
        runtime,
        namer: createImageNamer(containerd),
        concurrency: flags.concurrency,
        pullTimeoutMs,
        diskGuard: createDiskGuard({
          threshold: flags.diskThreshold / 100,
          mountpoint: imageFilesystemOf(runtime, flags.imageFsPath),
          onUnavailable: (message) => context.io.stderr.write(`warning: ${message}\n`),
        }),
        ...(online
          ? {
              resolveTag: async (reference, signal) =>
                (await registry.client.resolve(reference, signal ? { signal } : {})).digest,
              sizeOf: async (reference, signal) =>
                (await registry.client.resolve(reference, { withSize: true, signal })).pullSize,
            }
          : {}),
        authFor: pullAuthFrom(registry.keyring),
        onPulling: (target) => pulling.add(target.image),
        onResult: (result) => {
          pulling.delete(result.image);
          done += 1;
          if (progress) {
            context.io.stderr.write(
              `[${done}/${desired.entries.length}] ${result.outcome.padEnd(7)} ${result.image} (${formatSeconds(result.seconds)}${result.source === "bundle" ? ", from a bundle" : ""})\n`,
            );
          }
        },
      });
      context.io.stdout.write(
        flags.output === "json" ? formatJson(results) : formatText(results, flags.output === "wide"),
      );
      context.exitCode = results.every((r) => r.outcome === "present" || r.outcome === "pulled")
        ? ExitCode.ok
        : ExitCode.failed;
    } finally {
      clearInterval(printer);
      watch?.stop();
      containerd.close();
      runtime.close();
      await registry.client.close();
    }
  });
}

async function desiredState(images: string[], config: string[] | undefined): Promise<DesiredState> {
  if (images.length > 0 === (config !== undefined)) {
    throw new UsageError("warm takes either IMAGE arguments or --config PATH, not both and not neither");
  }
  if (config === undefined) return desiredStateFromImages(images);
  const desired = await loadDesiredState(config);
  // The agent may run with an empty set (and says so in its status); a one-shot warm of nothing is a mistake.
  if (desired.entries.length === 0) {
    throw new InputError(`${desired.files.join(", ")}: no images to warm (spec.images is empty)`, {
      source: desired.files.join(", "),
      field: "spec.images",
    });
  }
  return desired;
}

function formatJson(results: readonly EntryResult[]): string {
  const images = results.map((r) => ({
    reference: r.image,
    result: r.outcome,
    digest: r.digest ?? null,
    imageId: r.imageId ?? null,
    size: r.size ?? null,
    seconds: roundSeconds(r.seconds),
    pulls: r.pulls,
    errorKind: r.errorKind ?? null,
    message: r.message ?? null,
    registryDigest: r.registryDigest ?? null,
    source: r.source ?? null,
  }));
  const warm = results.every((r) => r.outcome === "present" || r.outcome === "pulled");
  return JSON.stringify({ warm, images }, null, 2) + "\n";
}

function formatText(results: readonly EntryResult[], wide: boolean): string {
  const rows = results.map((r) => [
    r.image,
    r.outcome,
    wide ? (r.digest ?? "-") : shortDigest(r.digest),
    formatBytes(r.size),
    formatSeconds(r.seconds),
    r.source ?? "-",
  ]);
  const details = results
    .filter((r) => r.message !== undefined)
    .map((r) => failureLine(r.image, r.errorKind, r.message ?? ""));
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  const summary = [...counts].map(([outcome, n]) => `${n} ${outcome}`).join(", ");
  return (
    formatTable(
      ["IMAGE", "RESULT", "DIGEST", "SIZE", "TIME", "SOURCE"],
      rows,
      wide ? {} : { maxWidth: TABLE_WIDTH },
    ) +
    (details.length > 0 ? "\n" + details.join("") : "") +
    `\n${results.length} image${results.length === 1 ? "" : "s"}: ${summary}\n`
  );
}
