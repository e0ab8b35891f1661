import type { AgentOptions } from "../agent/index.ts";
import { createImageSetReader, workerParser, type ImageSetReader } from "../imageset/index.ts";
import type { HostPort } from "../reference/index.ts";
import type { BundleFlags } from "./bundle-import.ts";
import type { DiskFlags } from "./disk-options.ts";
import { gateOptionsOf, type GateFlags } from "./gate-options.ts";
import type { RuntimeFlags } from "./options.ts";
import type { RegistryFlags } from "./registry-options.ts";
import { PREPULL_VERSION } from "./version.ts";

export interface AgentFlags extends RuntimeFlags, RegistryFlags, DiskFlags, GateFlags, BundleFlags {
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

/**
 * One reader for the first load and every reload, so an unchanged file is never parsed twice.
 * Reloads parse big files off the main thread, with a bounded heap, so the probes never stall;
 * the first load has no probe to stall yet, and parses on this thread what a worker would take
 * longer to start for than to parse. `started` switches from the one to the other.
 */
export function agentReader(): { reader: ImageSetReader; started: () => void } {
  const inWorker = workerParser();
  const atStart = workerParser({ inlineBytes: START_INLINE_BYTES });
  let starting = true;
  const reader = createImageSetReader({
    parse: (text, file) => (starting ? atStart : inWorker)(text, file),
  });
  return {
    reader,
    started: () => {
      starting = false;
    },
  };
}

/**
 * The agent's options from its flags. `probe` is checked first, before anything is read
 * (`probeAddress`); `defaultNodeName` names the node when --node-name is not given.
 */
export function agentOptionsOf(
  flags: AgentFlags,
  env: NodeJS.ProcessEnv,
  { probe, defaultNodeName }: { probe: HostPort | undefined; defaultNodeName: () => string },
): AgentOptions {
  const { host, port } = flags.listen;
  return {
    configPaths: flags.config,
    host,
    port,
    probe,
    nodeName: flags.nodeName ?? defaultNodeName(),
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
    gate: gateOptionsOf(flags, env),
    bundles: flags.bundles ?? [],
    offline: flags.offline,
    version: PREPULL_VERSION,
  };
}

/** Resolves with the first SIGTERM or SIGINT. */
export function waitForSignal(): Promise<NodeJS.Signals> {
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
