import type { ImageIndex } from "./documents.ts";

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export function nodePlatform(): Platform {
  const byNodeArch: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
  };
  return { os: "linux", architecture: byNodeArch[process.arch] ?? process.arch };
}

/** Whether `candidate` is `wanted`: same os and architecture, and variant when `wanted` names one. */
export function platformMatches(candidate: Platform, wanted: Platform): boolean {
  return (
    candidate.os === wanted.os &&
    candidate.architecture === wanted.architecture &&
    (wanted.variant === undefined || candidate.variant === wanted.variant)
  );
}

/**
 * The index entry the runtime pulls for `wanted`. Like containerd, an entry without a platform
 * (common for artifact indexes) matches too, after every entry that names a matching platform.
 */
export function selectManifest(
  index: ImageIndex,
  wanted: Platform,
): ImageIndex["manifests"][number] | undefined {
  return (
    index.manifests.find(
      (entry) => entry.platform !== undefined && platformMatches(entry.platform, wanted),
    ) ?? index.manifests.find((entry) => entry.platform === undefined)
  );
}
