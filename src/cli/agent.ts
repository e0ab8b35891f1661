import { Command, Option } from "commander";
import { agentOptionsOf, agentReader, waitForSignal, type AgentFlags } from "./agent-setup.ts";
import { ExitCode, type CliContext } from "./context.ts";
import { addBundleOptions } from "./bundle-import.ts";
import { addDiskGuardOptions, percentOption } from "./disk-options.ts";
import { addGateOptions } from "./gate-options.ts";
import { listenOption, probeAddress, probeListenOption } from "./listen-options.ts";
import { addRegistryOptions, openRegistryAccess } from "./registry-options.ts";
import {
  addRuntimeOptions,
  booleanValue,
  durationOption,
  PULL_TIMEOUT,
  positiveIntegerOption,
  repeatableOption,
} from "./options.ts";

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
  addBundleOptions(command, "--bundles");
  return command.action(async (flags: AgentFlags) => {
    // The daemon's modules load only when it runs, keeping the other commands quick to start.
    const [{ defaultNodeName, startAgent }, { createLogger }, { connectRuntime }] = await Promise.all([
      import("../agent/index.ts"),
      import("../logging/index.ts"),
      import("./runtime.ts"),
    ]);
    const probe = probeAddress(flags.listen, flags.probeListen);
    const logger = createLogger({ level: flags.logLevel });
    const { reader, started } = agentReader();
    const desired = (await reader.read(flags.config)).state;
    started();
    const registry = await openRegistryAccess(flags);
    const options = agentOptionsOf(flags, context.io.env, {
      probe,
      defaultNodeName: () => defaultNodeName(context.io.env),
    });
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
