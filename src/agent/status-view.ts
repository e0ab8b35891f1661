import type { RuntimeSupport } from "../cri/index.ts";
import type { AgentStatus, StatusOverview } from "../http/index.ts";
import type { EntryPinView, PinKeeper } from "../pins/index.ts";
import type { WarmScheduler, WarmStatus } from "../warm/index.ts";
import type { ConfigState } from "./config-state.ts";
import { entryMerger, type PullProgressView } from "./entry-merger.ts";
import type { GateKeeper } from "./gate-keeper.ts";

export interface StatusSources {
  readonly nodeName: string;
  readonly version: string;
  readonly startedAt: string;
  readonly scheduler: Pick<WarmScheduler, "status" | "entries">;
  readonly pins: Pick<PinKeeper, "status"> & {
    entry(key: string, imageId: string | undefined): EntryPinView;
  };
  readonly gate: Pick<GateKeeper, "status">;
  readonly progress: { entry(key: string): PullProgressView };
  readonly config: Pick<ConfigState, "desired" | "error">;
  readonly supportOf: (name: string | null, version: string | null) => RuntimeSupport | null;
}

export interface StatusView {
  /** Everything but the entries: what probes and gauges read, without a walk over the set. */
  readonly overview: (current?: WarmStatus) => StatusOverview;
  /** The /v1/status document. */
  readonly status: () => AgentStatus;
}

/** The agent's status, assembled from the scheduler, the pins, the gate and the config. */
export function statusView(sources: StatusSources): StatusView {
  const { scheduler, pins, gate, progress, config, supportOf } = sources;
  const merge = entryMerger();

  const overview = (current: WarmStatus = scheduler.status()): StatusOverview => ({
    warm: current.warm && current.lastPass !== null,
    summary: current.counts,
    runtime: { ...current.runtime, support: supportOf(current.runtime.name, current.runtime.version) },
    pins: pins.status(),
  });

  const status = (): AgentStatus => {
    const current = scheduler.status();
    const { warm, summary, runtime, pins: pinsStatus } = overview(current);
    const desired = config.desired;
    return {
      node: sources.nodeName,
      version: sources.version,
      startedAt: sources.startedAt,
      generation: current.generation,
      warm,
      config: {
        files: desired.files,
        sets: desired.sets,
        emptyFiles: desired.emptyFiles,
        error: config.error,
      },
      runtime,
      lastPass: current.lastPass,
      summary,
      pins: pinsStatus,
      gate: gate.status(),
      entries: scheduler.entries().map(({ key, status: entry }) => {
        const pulling = entry.state === "pulling" ? progress.entry(key) : null;
        return merge(entry, pins.entry(key, entry.imageId ?? undefined), pulling);
      }),
    };
  };

  return { overview, status };
}
