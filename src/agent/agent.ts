import { hostname } from "node:os";
import { createContainerdClient, probeContainerd, PullProgressWatch } from "../containerd/index.ts";
import { runtimeSupport, type CallObserver, type RuntimeSupport } from "../cri/index.ts";
import {
  createAgentMetrics,
  startStatusServer,
  type AgentStatus,
  type AgentView,
  type StatusOverview,
  type StatusServer,
} from "../http/index.ts";
import { watchDesiredState, type DesiredState, type ImageSetReader } from "../imageset/index.ts";
import { optedOutOf, pinEntryOf, PinKeeper } from "../pins/index.ts";
import { entryMerger } from "./entry-merger.ts";
import { GateKeeper } from "./gate-keeper.ts";
import { ungatedOf, type DeadlineAction } from "../gate/index.ts";
import { connectNodeGate, type NodeGateConfig } from "./node-gate.ts";
import { pullAuthFrom, type CredentialKeyring, type RegistryClient } from "../registry/index.ts";
import {
  createDiskGuard,
  imageFilesystemOf,
  imageFilesystemUse,
  WarmScheduler,
  type ImageRuntime,
  type WarmLogger,
  type WarmStatus,
} from "../warm/index.ts";

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

/**
 * What prepull knows of the runtime's version, for status; the first time a version past its end
 * of life (or one prepull does not test) is seen, the log says so once.
 */
function supportWatcher(
  logger: WarmLogger,
): (name: string | null, version: string | null) => RuntimeSupport | null {
  let seen: string | undefined;
  let support: RuntimeSupport | null = null;
  return (name, version) => {
    if (name === null || version === null) return null;
    const key = `${name} ${version}`;
    if (key !== seen) {
      seen = key;
      support = runtimeSupport(name, version);
      if (support.note !== null) logger.warn({ runtime: key, support: support.level }, support.note);
    }
    return support;
  };
}

export function defaultNodeName(env: NodeJS.ProcessEnv): string {
  return env.NODE_NAME?.trim() || hostname();
}

/**
 * The daemon: watches the ImageSet files, keeps the last good set warm through the warm scheduler,
 * and serves health, readiness, metrics and status.
 */
export async function startAgent(
  initial: DesiredState,
  options: AgentOptions,
  parts: AgentParts,
): Promise<RunningAgent> {
  const { registry, keyring, logger } = parts;
  // First: a gate that cannot reach the API server is a usage error, before anything is opened.
  const nodeGate = await connectNodeGate(options.nodeName, options.gate, logger);
  // Gauges read the overview and the rest at scrape time, so these may be defined below.
  const metrics = createAgentMetrics(
    { status: () => overview(), gateStatus: () => gate.status() },
    {
      generationTimes: () => scheduler.generationTimes(),
      faults: () => scheduler.faults(),
      pinReasons: () => pins.reasons(),
      diskThreshold: options.diskThreshold,
      imageFilesystemUse: () => filesystemUse(),
    },
  );
  const runtime = parts.connectRuntime(metrics.criObserver);
  const startedAt = new Date().toISOString();
  let desired = initial;
  let configError: { message: string; at: string } | null = null;
  const supportOf = supportWatcher(logger);
  let optedOut = optedOutOf(initial.entries);
  let ungated = ungatedOf(initial.entries);
  const imageFilesystem = imageFilesystemOf(runtime, options.imageFsPath);
  const filesystemUse = imageFilesystemUse(imageFilesystem);
  // containerd's own API answers on the CRI socket; pins go through it (CRI cannot set them).
  const containerd = createContainerdClient({ endpoint: runtime.endpoint });
  const pins = new PinKeeper({
    enabled: options.pin,
    budgetRatio: options.pinBudget,
    runtime,
    api: containerd,
    probe: (criRuntimeName) => probeContainerd(containerd, { criRuntimeName }),
    mountpoint: imageFilesystem,
    entries: () =>
      scheduler.entries().map((entry) => ({ key: entry.key, entry: pinEntryOf(entry, optedOut) })),
    logger,
    onPinPass: (result) => {
      metrics.pinPassed(result);
    },
  });

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
    ...(registry
      ? {
          resolveTag: async (reference, signal) =>
            (await registry.resolve(reference, signal ? { signal } : {})).digest,
          sizeOf: async (reference, signal) =>
            (await registry.resolve(reference, { withSize: true, signal })).platformSize,
        }
      : {}),
    authFor: pullAuthFrom(keyring),
    logger,
    events: metrics.events,
    onPassSettled: ({ images, pullsRunning }) => {
      pins.request(images, { pullsRunning });
      gate.publish();
    },
  });
  const gate = new GateKeeper({
    policy: options.gate,
    startedAt: new Date(startedAt),
    entries: () => scheduler.entries(),
    firstPassDone: () => scheduler.status().lastPass !== null,
    ungated: () => ungated,
    reporter: nodeGate?.reporter,
    logger,
    onOpened: (seconds) => {
      metrics.gateOpened(seconds);
    },
  });

  const merge = entryMerger();
  // Progress is keyed by `entryKey`, as the scheduler lists its pulls: no walk over the set.
  const progress = new PullProgressWatch(containerd, () => scheduler.pulling());

  /** Everything but the entries: what probes and gauges read, without a walk over the set. */
  const overview = (current: WarmStatus = scheduler.status()): StatusOverview => {
    return {
      warm: current.warm && current.lastPass !== null,
      summary: current.counts,
      runtime: { ...current.runtime, support: supportOf(current.runtime.name, current.runtime.version) },
      pins: pins.status(),
    };
  };

  const status = (): AgentStatus => {
    const current = scheduler.status();
    const { warm, summary, runtime: runtimeStatus, pins: pinsStatus } = overview(current);
    return {
      node: options.nodeName,
      version: options.version,
      startedAt,
      generation: current.generation,
      warm,
      config: {
        files: desired.files,
        sets: desired.sets,
        emptyFiles: desired.emptyFiles,
        error: configError,
      },
      runtime: runtimeStatus,
      lastPass: current.lastPass,
      summary,
      pins: pinsStatus,
      gate: gate.status(),
      entries: scheduler.entries().map(({ key, status }) => {
        const pulling = status.state === "pulling" ? progress.entry(key) : null;
        return merge(status, pins.entry(key, status.imageId ?? undefined), pulling);
      }),
    };
  };
  metrics.configReloaded(initial.generation);

  const view: AgentView = {
    status,
    health() {
      return scheduler.health();
    },
    gate: () => gate.state(),
    readiness() {
      if (options.readyWhen === "started") return { ok: true, reason: "started" };
      const scheduled = scheduler.status();
      const current = { ...overview(scheduled), generation: scheduled.generation };
      return current.warm
        ? { ok: true, reason: `warm at generation ${current.generation}` }
        : { ok: false, reason: `not warm: ${current.summary.present}/${current.summary.total} present` };
    },
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
  gate.start();

  const watcher = watchDesiredState(
    [...options.configPaths],
    {
      onChange(next) {
        desired = next;
        optedOut = optedOutOf(next.entries);
        ungated = ungatedOf(next.entries);
        configError = null;
        metrics.configReloaded(next.generation);
        logger.info({ generation: next.generation, entries: next.entries.length }, "image set changed");
        scheduler.setDesired(next.entries, next.generation);
      },
      onError(error) {
        configError = { message: error.message, at: new Date().toISOString() };
        metrics.configFailed();
        logger.error({ error: error.message }, "new image set is invalid; keeping the last good one");
      },
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
    status,
    async stop(graceMs) {
      watcher.close();
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
