import type { GenerationTimes, WarmLogger, WarmStatus } from "../warm/index.ts";

/** Often enough to see a long warm move in `kubectl logs`, rare enough to add no noise. */
export const WARM_PROGRESS_INTERVAL_MS = 30_000;

export interface WarmProgressSource {
  status(): Pick<WarmStatus, "generation" | "counts">;
  generationTimes(): GenerationTimes;
}

export interface ProcessMemory {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

const processMemory = (): ProcessMemory => ({
  rssBytes: process.memoryUsage.rss(),
  heapUsedBytes: process.memoryUsage().heapUsed,
});

/**
 * While the generation in force is not yet warm, logs how far it got at every interval, with the
 * agent's own memory beside it: a warm of thousands of entries takes minutes, and its per-entry
 * lines do not say how much is left. Says nothing once the node has been warm at the generation.
 */
export function reportWarmProgress(
  source: WarmProgressSource,
  logger: Pick<WarmLogger, "info">,
  options: { readonly intervalMs?: number; readonly memory?: () => ProcessMemory } = {},
): { stop(): void } {
  const memory = options.memory ?? processMemory;
  const timer = setInterval(() => {
    const times = source.generationTimes();
    if (times.warmAt !== null) return;
    const { generation, counts } = source.status();
    if (counts.total === 0) return;
    logger.info(
      {
        generation,
        present: counts.present,
        total: counts.total,
        pulling: counts.pulling,
        pending: counts.pending,
        failing: counts.failed + counts.blocked + counts.drifted,
        seconds: Math.round((Date.now() - times.startedAt) / 1000),
        ...memory(),
      },
      "warming",
    );
  }, options.intervalMs ?? WARM_PROGRESS_INTERVAL_MS);
  // A progress line never keeps a stopping agent alive.
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
