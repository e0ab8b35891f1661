import { Option, type Command } from "commander";
import type { BundleProblem, ImageStore } from "../bundle/index.ts";
import { InputError } from "../failure/index.ts";
import type { ImageImporter } from "../warm/index.ts";
import { booleanValue, repeatableOption } from "./options.ts";

export interface BundleFlags {
  /** `warm --from`: bundles (or directories of them) to import from. */
  readonly from?: string[];
  /** `agent --bundles`: the same, read again every pass. */
  readonly bundles?: string[];
  readonly offline: boolean;
}

export function addBundleOptions(command: Command, flag: "--from" | "--bundles"): Command {
  const what =
    flag === "--from"
      ? "import locked images from this bundle (an OCI layout directory or tar file, or a directory of them) before pulling"
      : "import locked images from the bundles in this directory (OCI layout directories or tar files), read again every pass";
  const paths = repeatableOption(`${flag} <path>`, what, { commas: true });
  const offline = new Option(
    "--offline [bool]",
    "never pull from a registry: an entry no bundle holds fails not_found",
  )
    .default(false)
    .preset("true")
    .argParser(booleanValue);
  // The agent is configured through its environment in the DaemonSet, like its other options.
  if (flag === "--bundles") {
    paths.env("PREPULL_BUNDLES");
    offline.env("PREPULL_OFFLINE");
  }
  return command.addOption(paths).addOption(offline);
}

/**
 * The importer a command uses for its bundles. Bundles that cannot be read are reported through
 * `onProblem` and skipped; when none of `paths` can be read, it throws an input error naming them.
 */
export async function openBundleImporter(options: {
  paths: readonly string[];
  store: ImageStore;
  timeoutMs: number;
  onProblem: (problem: BundleProblem) => void;
  onUnavailable?: (reason: string) => void;
}): Promise<ImageImporter> {
  // Loaded with the first import: commands without bundles never load the bundle code.
  const [{ BundleReader, createBundleImporter }, { nodePlatform }] = await Promise.all([
    import("../bundle/index.ts"),
    import("../registry/index.ts"),
  ]);
  const reader = new BundleReader(options.paths, { onProblem: options.onProblem });
  const catalog = await reader.catalog();
  if (catalog.sources.length === 0 && catalog.problems.length > 0) {
    throw new InputError(catalog.problems.map((problem) => problem.message).join("; "), {
      source: catalog.problems[0]?.path,
    });
  }
  return createBundleImporter({
    catalog: () => reader.catalog(),
    store: options.store,
    platform: nodePlatform(),
    timeoutMs: options.timeoutMs,
    ...(options.onUnavailable ? { onUnavailable: options.onUnavailable } : {}),
  });
}
