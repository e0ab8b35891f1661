import type { Readable } from "node:stream";
import { ImageSetError, loadDesiredState, type DesiredState } from "../imageset/index.ts";
import { ManifestSourceError, readManifestSources, type ManifestSource } from "../manifests/index.ts";
import { UsageError } from "./context.ts";

// Files named on the command line: one that is missing or invalid is the user's input error (exit 2).

export async function loadImageSets(paths: readonly string[]): Promise<DesiredState> {
  try {
    return await loadDesiredState(paths);
  } catch (error) {
    if (error instanceof ImageSetError) throw new UsageError(error.message);
    throw error;
  }
}

export async function readManifests(paths: readonly string[], stdin: Readable): Promise<ManifestSource[]> {
  try {
    return await readManifestSources(paths, stdin);
  } catch (error) {
    if (error instanceof ManifestSourceError) throw new UsageError(error.message);
    throw error;
  }
}
