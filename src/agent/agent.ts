import { hostname } from "node:os";
import {
  createContainerdClient,
  createImageNamer,
  probeContainerd,
  PullProgressWatch,
} from "../containerd/index.ts";
import type { CallObserver } from "../cri/index.ts";
import {
  createAgentMetrics,
  startStatusServer,
  type AgentStatus,
  type AgentView,
  type StatusServer,
} from "../http/index.ts";
import { watchDesiredState, type DesiredState, type ImageSetReader } from "../imageset/index.ts";
import { pinEntryOf, PinKeeper } from "../pins/index.ts";
import { agentBundles } from "./bundles.ts";
import type { DeadlineAction } from "../gate/index.ts";
import { pullAuthFrom, type CredentialKeyring, type RegistryClient } from "../registry/index.ts";
import {
  createDiskGuard,
  imageFilesystemOf,
  imageFilesystemUse,
  WarmScheduler,
  type ImageRuntime,
  type SettledPass,
  type WarmLogger,
} from "../warm/index.ts";
import { ConfigState, reloadHandlers } from "./config-state.ts";
import { GateKeeper } from "./gate-keeper.ts";
import { Later } from "./later.ts";
import { connectNodeGate, type NodeGateConfig } from "./node-gate.ts";
import { readinessOf } from "./readiness.ts";
import { statusView, type StatusView } from "./status-view.ts";
import { supportWatcher } from "./support-watcher.ts";
import { reportWarmProgress } from "./warm-progress.ts";

export interface AgentOptions {
  readonly configPaths: readonly string[];
  readonly host: string;
  readonly port: number;
  /** Where the probe port listens (/healthz and /readyz alone); none without it. */
  readonly probe?: { readonly host: string; readonly port: number };
  readonly nodeName: string;
  readonly resyncMs: number;
  readonly concurrency: number;
  readonly pullTimeoutMs: number;
  readonly spreadMs: number;
  /** 0..1 of the image filesystem; pulls that would cross it are blocked. */
  readonly diskThreshold: number;
  readonly imageFsPath: string | undefined;
  readonly readyWhen: "started" | "warm";
  /** How long the runtime may stay silent before /healthz fails. */
  readonly runtimeGraceMs: number;
  /** Pin the warm set against kubelet's image GC where the runtime can (docs/pinning.md). */
  readonly pin: boolean;
  /** 0..1 of the image filesystem that pinned images may take. */
  readonly pinBudget: number;
  /** The readiness gate (docs/readiness-gate.md): its deadline, and what it tells the API server. */
  readonly gate: {
    readonly deadlineMs: number | null;
    readonly atDeadline: DeadlineAction;
  } & NodeGateConfig;
  /** Bundles (or directories of them) to import locked entries from (docs/bundles.md). */
  readonly bundles: readonly string[];
  /** Never pull from a registry: what no bundle holds fails `not_found`. */
  readonly offline: boolean;
  readonly version: string;
}

export interface AgentParts {
  /** Opens the runtime client; the observer feeds the CRI call metrics. */
  readonly connectRuntime: (observer: CallObserver) => ImageRuntime;
  readonly registry: RegistryClient | undefined;
  readonly keyring: CredentialKeyring | undefined;
  readonly logger: WarmLogger;
  /** The reader that made the initial state, so the watcher does not parse everything again. */
  readonly reader?: ImageSetReader;
}

export interface RunningAgent {
  readonly url: string;
  status(): AgentStatus;
  /** Stops pulls (cancelling them after `graceMs`), the watcher and the server. */
  stop(graceMs: number): Promise<void>;
}

/** What the gauges read at scrape time. */
interface ScrapeSources {
  readonly view: StatusView;
  readonly gate: GateKeeper;
  readonly scheduler: WarmScheduler;
  readonly pins: PinKeeper;
  readonly filesystemUse: () => Promise<number | undefined>;
}

export function defaultNodeName(env: NodeJS.ProcessEnv): string {
  return env.NODE_NAME?.trim() || hostname();
}

/**
 * The daemon: watches the ImageSet files, keeps the last good set warm through the warm scheduler,
 * and serves health, readiness, metrics and status. Wiring only: each part is made before it is
 * read; the two cycles (gauges that read the scheduler, a scheduler that tells pins and gate of
 * each pass) go through a `Later`, set once the parts exist.
 */
export async function startAgent(
  initial: DesiredState,
  options: AgentOptions,
  parts: AgentParts,
): Promise<RunningAgent> {
  const { registry, keyring, logger } = parts;
  // First: a gate that cannot reach the API server is a usage error, before anything is opened.
  const nodeGate = await connectNodeGate(options.nodeName, options.gate, logger);
  // Gauges read at scrape time, once the server is up: by then `scraped` is set, below.
  const scraped = new Later<ScrapeSources>("what the metrics read");
  const metrics = createAgentMetrics(
    { status: () => scraped.get().view.overview(), gateStatus: () => scraped.get().gate.status() },
    {
      generationTimes: () => scraped.get().scheduler.generationTimes(),
      faults: () => scraped.get().scheduler.faults(),
      pinReasons: () => scraped.get().pins.reasons(),
      diskThreshold: options.diskThreshold,
      imageFilesystemUse: () => scraped.get().filesystemUse(),
    },
  );
  const runtime = parts.connectRuntime(metrics.criObserver);
  const startedAt = new Date().toISOString();
  const config = new ConfigState(initial);
  const imageFilesystem = imageFilesystemOf(runtime, options.imageFsPath);
  const filesystemUse = imageFilesystemUse(imageFilesystem);
  // containerd's own API answers on the CRI socket; pins go through it (CRI cannot set them).
  const containerd = createContainerdClient({ endpoint: runtime.endpoint });
  const bundles = agentBundles(options, containerd, logger);

  // Judged at first contact with the runtime, so an end-of-life warning is logged then.
  const supportOf = supportWatcher(logger);
  // Passes settle only once the scheduler has started, by when `afterPass` is set, below.
  const afterPass = new Later<(pass: SettledPass) => void>("what follows a pass");
  const scheduler = new WarmScheduler({
    runtime,
    nodeName: options.nodeName,
    concurrency: options.concurrency,
    pullTimeoutMs: options.pullTimeoutMs,
    resyncMs: options.resyncMs,
    spreadMs: options.spreadMs,
    runtimeGraceMs: options.runtimeGraceMs,
    diskGuard: createDiskGuard({
      threshold: options.diskThreshold,
      mountpoint: imageFilesystem,
      onUnavailable: (message) => {
        logger.warn({ imageFsPath: options.imageFsPath ?? null }, message);
      },
    }),
    ...bundles.pass,
    // A confirmed tag is pointed at the digest the node holds instead of pulled a second time.
    namer: createImageNamer(containerd),
    ...(registry && !options.offline
      ? {
          resolveTag: async (reference, signal) =>
            (await registry.resolve(reference, signal ? { signal } : {})).digest,
          sizeOf: async (reference, signal) =>
            (await registry.resolve(reference, { withSize: true, signal })).pullSize,
        }
      : {}),
    authFor: pullAuthFrom(keyring),
    logger,
    events: metrics.events,
    onRuntimeReachable: (version) => {
      if (version !== undefined) supportOf(version.runtimeName, version.runtimeVersion);
    },
    onPassSettled: (pass) => {
      afterPass.get()(pass);
    },
  });
  const pins = new PinKeeper({
    enabled: options.pin,
    budgetRatio: options.pinBudget,
    runtime,
    api: containerd,
    probe: (criRuntimeName) => probeContainerd(containerd, { criRuntimeName }),
    mountpoint: imageFilesystem,
    entries: () =>
      scheduler.entries().map((entry) => ({ key: entry.key, entry: pinEntryOf(entry, config.optedOut) })),
    logger,
    onPinPass: (result) => {
      metrics.pinPassed(result);
    },
  });
  const gate = new GateKeeper({
    policy: options.gate,
    startedAt: new Date(startedAt),
    entries: () => scheduler.entries(),
    firstPassDone: () => scheduler.status().lastPass !== null,
    ungated: () => config.ungated,
    reporter: nodeGate?.reporter,
    logger,
    onOpened: (seconds) => {
      metrics.gateOpened(seconds);
    },
  });
  afterPass.set(({ images, pullsRunning }) => {
    pins.request(images, { pullsRunning });
    gate.publish();
  });
  // Progress is keyed by `entryKey`, as the scheduler lists its pulls: no walk over the set.
  const progress = new PullProgressWatch(containerd, () => scheduler.pulling());

  const statuses = statusView({
    nodeName: options.nodeName,
    version: options.version,
    startedAt,
    scheduler,
    pins,
    gate,
    // An import knows its own bytes; a pull's are read from containerd's ingests.
    progress: { entry: (key) => bundles.progress(key) ?? progress.entry(key) },
    config,
    supportOf,
  });
  scraped.set({ view: statuses, gate, scheduler, pins, filesystemUse });
  metrics.configReloaded(initial.generation);

  const view: AgentView = {
    status: statuses.status,
    health: () => scheduler.health(),
    gate: () => gate.state(),
    readiness: () =>
      readinessOf(options.readyWhen, () => {
        const scheduled = scheduler.status();
        return { ...statuses.overview(scheduled), generation: scheduled.generation };
      }),
  };
  const server: StatusServer = await startStatusServer({
    host: options.host,
    port: options.port,
    probe: options.probe,
    view,
    metrics,
  });

  scheduler.setDesired(initial.entries, initial.generation);
  scheduler.start();
  progress.start();
  const warmProgress = reportWarmProgress(scheduler, logger);
  gate.start();
  const stopBundleWatch = bundles.watch(() => {
    const retried = scheduler.retryNow("not_found");
    logger.info({ retried }, "bundles changed; entries no bundle held are tried again now");
  });

  const watcher = watchDesiredState(
    [...options.configPaths],
    {
      ...reloadHandlers({
        config,
        metrics,
        logger,
        setDesired: (next) => {
          scheduler.setDesired(next.entries, next.generation);
        },
      }),
      ...(parts.reader ? { reader: parts.reader } : {}),
    },
    initial.generation,
  );

  logger.info(
    {
      url: server.url,
      probeUrl: server.probeUrl ?? null,
      node: options.nodeName,
      generation: initial.generation,
      entries: initial.entries.length,
    },
    "agent started",
  );

  return {
    url: server.url,
    status: statuses.status,
    async stop(graceMs) {
      watcher.close();
      stopBundleWatch();
      warmProgress.stop();
      progress.stop();
      gate.stop();
      await scheduler.stop(graceMs);
      await pins.idle();
      await nodeGate?.close();
      await server.close();
      containerd.close();
      runtime.close();
      await registry?.close();
    },
  };
}
