import { Command, Option } from "commander";
import { createImageSetReader, workerParser } from "../imageset/index.ts";
import type { HostPort } from "../reference/index.ts";
import { ExitCode, type CliContext } from "./context.ts";
import { addDiskGuardOptions, percentOption, type DiskFlags } from "./disk-options.ts";
import { addGateOptions, gateOptionsOf, type GateFlags } from "./gate-options.ts";
import { listenOption, probeAddress, probeListenOption } from "./listen-options.ts";
import { addRegistryOptions, openRegistryAccess, type RegistryFlags } from "./registry-options.ts";
import {
  addRuntimeOptions,
  booleanValue,
  durationOption,
  PULL_TIMEOUT,
  positiveIntegerOption,
  repeatableOption,
  type RuntimeFlags,
} from "./options.ts";
import { PREPULL_VERSION } from "./version.ts";

interface AgentFlags extends RuntimeFlags, RegistryFlags, DiskFlags, GateFlags {
  readonly config: string[];
  readonly listen: HostPort;
  /** Undefined when not given. */
  readonly probeListen?: HostPort | "off";
  readonly resync: number;
  readonly concurrency: number;
  readonly nodeName?: string;
  readonly pullTimeout: number;
  readonly spread: number;
  readonly readyWhen: "started" | "warm";
  readonly logLevel: string;
  readonly shutdownGrace: number;
  readonly runtimeGrace: number;
  readonly pin: boolean;
  /** Percent of the image filesystem. */
  readonly pinBudget: number;
}

/**
 * Files up to this size (about 6,000 entries) are parsed on the main thread at start, in less
 * time than a parser worker takes to start; bigger ones still go to a worker, whose heap is capped.
 */
const START_INLINE_BYTES = 256 * 1024;

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      resolve(signal);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

export function agentCommand(context: CliContext): Command {
  const command = new Command("agent")
    .summary("run the node daemon that keeps image sets warm")
    .description(
      "Keep the images of one or more ImageSets warm on this node. Files are re-read when they change " +
        "(ConfigMap volumes included); an invalid new version is reported and the last good set is kept. " +
        "Serves GET /healthz, /readyz, /metrics and /v1/status, and /healthz and /readyz alone on a probe " +
        "port of their own, for kubelet's probes. Every flag can also be set through an " +
        "environment variable named PREPULL_<FLAG>, e.g. PREPULL_CONCURRENCY.\n\n" +
        "Exit status: 0 after SIGTERM or SIGINT, 2 when the flags or the ImageSets are invalid at start " +
        "(later invalid versions are reported and the last good set is kept).",
    )
    .addOption(
      repeatableOption("--config <path>", "an ImageSet file or directory")
        .makeOptionMandatory()
        .env("PREPULL_CONFIG"),
    )
    .addOption(listenOption())
    .addOption(probeListenOption())
    .addOption(
      durationOption("--resync <duration>", "interval of the repair pass", "2m").env("PREPULL_RESYNC"),
    )
    .addOption(
      // 4: on realistic images 2 took 1.3× as long and 8 gained 5% (BENCHMARKS.md).
      positiveIntegerOption("-c, --concurrency <n>", "pulls at once on this node", 4).env(
        "PREPULL_CONCURRENCY",
      ),
    )
    .addOption(
      new Option("--node-name <name>", "name reported in status (default: $NODE_NAME, else the hostname)"),
    )
    .addOption(
      durationOption("--pull-timeout <duration>", "deadline for each pull", PULL_TIMEOUT).env(
        "PREPULL_PULL_TIMEOUT",
      ),
    )
    .addOption(
      durationOption(
        "--spread <duration>",
        "spread the start of new generations across nodes up to this delay",
        "0s",
        { allowZero: true },
      ).env("PREPULL_SPREAD"),
    )
    .addOption(
      new Option("--ready-when <when>", "when /readyz turns ready")
        .choices(["started", "warm"])
        .default("started")
        .env("PREPULL_READY_WHEN"),
    )
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["trace", "debug", "info", "warn", "error"])
        .default("info")
        .env("PREPULL_LOG_LEVEL"),
    )
    .addOption(
      durationOption(
        "--shutdown-grace <duration>",
        "on SIGTERM, how long running pulls may finish before they are cancelled",
        "20s",
        { allowZero: true },
      ).env("PREPULL_SHUTDOWN_GRACE"),
    )
    .addOption(
      durationOption(
        "--runtime-grace <duration>",
        "how long the runtime may be unreachable before /healthz fails",
        "60s",
      ).env("PREPULL_RUNTIME_GRACE"),
    );
  command
    .addOption(
      new Option(
        "--pin [bool]",
        "pin the warm images so kubelet's image GC skips them, where the runtime can (containerd 1.7 or later); --pin=false leaves every pin as it is",
      )
        .default(true)
        .preset("true")
        .argParser(booleanValue)
        .env("PREPULL_PIN"),
    )
    .addOption(
      percentOption(
        "--pin-budget <percent>",
        "pin at most this share of the image filesystem, in set order; the rest stays warm unpinned. " +
          "Sizes are the compressed ones the runtime reports; unpacked layers take as much again or " +
          "more on disk, so keep it well under half of kubelet's GC mark (85) for GC to have room",
        50,
      ).env("PREPULL_PIN_BUDGET"),
    );
  addRuntimeOptions(command);
  addRegistryOptions(command);
  addDiskGuardOptions(command);
  addGateOptions(command);
  return command.action(async (flags: AgentFlags) => {
    // The daemon's modules load only when it runs, keeping the other commands quick to start.
    const [{ defaultNodeName, startAgent }, { createLogger }, { connectRuntime }] = await Promise.all([
      import("../agent/index.ts"),
      import("../logging/index.ts"),
      import("./runtime.ts"),
    ]);
    const { host, port } = flags.listen;
    const probe = probeAddress(flags.listen, flags.probeListen);
    const logger = createLogger({ level: flags.logLevel });
    // One reader for the first load and every reload, so an unchanged file is never parsed twice.
    // Reloads parse big files off the main thread, with a bounded heap, so the probes never stall;
    // the first load has no probe to stall yet, and parses on this thread what a worker would take
    // longer to start for than to parse.
    const inWorker = workerParser();
    const atStart = workerParser({ inlineBytes: START_INLINE_BYTES });
    let starting = true;
    const reader = createImageSetReader({
      parse: (text, file) => (starting ? atStart : inWorker)(text, file),
    });
    const desired = (await reader.read(flags.config)).state;
    starting = false;
    const registry = await openRegistryAccess(flags);
    const options = {
      configPaths: flags.config,
      host,
      port,
      probe,
      nodeName: flags.nodeName ?? defaultNodeName(context.io.env),
      resyncMs: flags.resync,
      concurrency: flags.concurrency,
      pullTimeoutMs: flags.pullTimeout,
      spreadMs: flags.spread,
      diskThreshold: flags.diskThreshold / 100,
      imageFsPath: flags.imageFsPath,
      readyWhen: flags.readyWhen,
      runtimeGraceMs: flags.runtimeGrace,
      pin: flags.pin,
      pinBudget: flags.pinBudget / 100,
      gate: gateOptionsOf(flags, context.io.env),
      version: PREPULL_VERSION,
    };
    const agent = await startAgent(desired, options, {
      connectRuntime: (observer) =>
        connectRuntime(flags, context.io.env, { pullTimeoutMs: flags.pullTimeout, observer }),
      registry: registry.client,
      keyring: registry.keyring,
      logger,
      reader,
    });
    const signal = await waitForSignal();
    logger.info({ signal, graceMs: flags.shutdownGrace }, "shutting down");
    await agent.stop(flags.shutdownGrace);
    logger.info({}, "stopped");
    logger.flush();
    context.exitCode = ExitCode.ok;
  });
}
