import {
  BundleReader,
  createBundleImporter,
  type BundleImporter,
  type ImageStore,
  type ImportProgress,
} from "../bundle/index.ts";
import { errorMessage } from "../failure/index.ts";
import { nodePlatform } from "../registry/index.ts";
import type { ImageImporter, WarmLogger } from "../warm/index.ts";
import type { AgentOptions } from "./agent.ts";

/** How often the agent looks for bundles added to (or removed from) its directories. */
const BUNDLE_POLL_MS = 5_000;

export interface AgentBundles {
  /** The scheduler's bundle options. */
  readonly pass: { importer?: ImageImporter; offline: boolean };
  /** Bytes of the entry's import under way, by entry key; null when none is. */
  progress(key: string): ImportProgress;
  /**
   * Polls the bundles; when they change, `onChange` runs (the agent retries entries no bundle
   * held). Returns the stop function.
   */
  watch(onChange: () => void): () => void;
}

/**
 * An importer over `--bundles`, and a watch on them: an operator drops a bundle into the
 * directory and the entries that waited for it are tried within seconds, not at their next retry.
 * Unreadable bundles and a runtime that cannot import are logged once each.
 */
export function agentBundles(
  options: Pick<AgentOptions, "bundles" | "offline" | "pullTimeoutMs">,
  store: ImageStore,
  logger: WarmLogger,
): AgentBundles {
  if (options.bundles.length === 0) {
    return { pass: { offline: options.offline }, progress: () => null, watch: () => () => undefined };
  }
  const reader = new BundleReader(options.bundles, {
    onProblem: (problem) => {
      logger.warn({ bundle: problem.path }, `bundle not used: ${problem.message}`);
    },
  });
  const importer: BundleImporter = createBundleImporter({
    catalog: () => reader.catalog(),
    store,
    platform: nodePlatform(),
    timeoutMs: options.pullTimeoutMs,
    onUnavailable: (reason) => {
      logger.warn({ bundles: options.bundles }, reason);
    },
  });
  return {
    pass: { importer, offline: options.offline },
    progress: (key) => importer.progress(key),
    watch(onChange) {
      const look = (): void => {
        reader.changed().then(
          (changed) => {
            if (changed) onChange();
          },
          (error: unknown) => {
            logger.warn({ bundles: options.bundles, err: errorMessage(error) }, "cannot read the bundles");
          },
        );
      };
      look();
      const timer = setInterval(look, BUNDLE_POLL_MS).unref();
      return () => {
        clearInterval(timer);
      };
    },
  };
}
