import { BundleReader, createBundleImporter, type ImageStore } from "../bundle/index.ts";
import { nodePlatform } from "../registry/index.ts";
import type { ImageImporter, WarmLogger } from "../warm/index.ts";
import type { AgentOptions } from "./agent.ts";

/**
 * The scheduler's bundle options: an importer over `--bundles`, read again at most every few
 * seconds (an operator adds a bundle to the directory; the next pass finds it), and `offline`.
 * Unreadable bundles and a runtime that cannot import are logged once each.
 */
export function bundleImporter(
  options: Pick<AgentOptions, "bundles" | "offline" | "pullTimeoutMs">,
  store: ImageStore,
  logger: WarmLogger,
): { importer?: ImageImporter; offline: boolean } {
  if (options.bundles.length === 0) return { offline: options.offline };
  const reader = new BundleReader(options.bundles, {
    onProblem: (problem) => {
      logger.warn({ bundle: problem.path }, `bundle not used: ${problem.message}`);
    },
  });
  const importer = createBundleImporter({
    catalog: () => reader.catalog(),
    store,
    platform: nodePlatform(),
    timeoutMs: options.pullTimeoutMs,
    onUnavailable: (reason) => {
      logger.warn({ bundles: options.bundles }, reason);
    },
  });
  return { importer, offline: options.offline };
}
