/**
 * What prepull knows about the runtime it talks to, from the name and version CRI's Version call
 * reports: how well it is supported, and which features it has. Pure; the agent puts it in its
 * status and log, the CLI in its warnings.
 */

export type SupportLevel = "supported" | "end_of_life" | "untested";

export interface RuntimeSupport {
  readonly level: SupportLevel;
  /** One line for operators when the level is not `supported`. */
  readonly note: string | null;
  /** The `io.cri-containerd.pinned` label is honoured (CRI `Image.pinned`). */
  readonly pinning: boolean;
  /** OCI artifacts (non-image config, non-layer blobs) can be pulled through CRI. */
  readonly artifacts: boolean;
  /** Bundles can be imported: containerd's transfer service with an import stream (1.7 on). */
  readonly imports: boolean;
}

interface ContainerdLine {
  readonly major: number;
  readonly minor: number;
  /** End of life as containerd's RELEASES.md states it, when it has passed. */
  readonly endOfLife?: string;
}

// containerd's RELEASES.md, with the extended support of 1.6 and 1.7.
const CONTAINERD_LINES: readonly ContainerdLine[] = [
  { major: 1, minor: 6, endOfLife: "2025-08-23" },
  { major: 1, minor: 7, endOfLife: "2026-09-30" },
  { major: 2, minor: 0, endOfLife: "2025-11-07" },
];

function parseVersion(text: string): { major: number; minor: number } | undefined {
  const match = /(\d+)\.(\d+)/.exec(text);
  return match === null ? undefined : { major: Number(match[1]), minor: Number(match[2]) };
}

export function runtimeSupport(
  runtimeName: string,
  runtimeVersion: string,
  today = new Date(),
): RuntimeSupport {
  const version = parseVersion(runtimeVersion);
  if (runtimeName !== "containerd" || version === undefined) {
    return {
      level: "untested",
      note: `${runtimeName} ${runtimeVersion} is used through CRI only and is not tested by prepull; pins and pull progress are containerd features`,
      pinning: false,
      artifacts: false,
      imports: false,
    };
  }
  const atLeast = (major: number, minor: number): boolean =>
    version.major > major || (version.major === major && version.minor >= minor);
  const features = { pinning: atLeast(1, 7), artifacts: atLeast(2, 1), imports: atLeast(1, 7) };
  const line = CONTAINERD_LINES.find(
    (known) => known.major === version.major && known.minor === version.minor,
  );
  const ended = !atLeast(1, 6) || (line?.endOfLife !== undefined && new Date(line.endOfLife) <= today);
  if (!ended) return { level: "supported", note: null, ...features };
  const since = line?.endOfLife === undefined ? "" : ` on ${line.endOfLife}`;
  const missing = [
    features.pinning ? "" : "pins",
    features.artifacts ? "" : "OCI artifacts",
    features.imports ? "" : "bundle imports",
  ].filter(Boolean);
  return {
    level: "end_of_life",
    note:
      `containerd ${version.major}.${version.minor} reached end of life${since}; upgrade to containerd 2.x` +
      (missing.length === 0 ? "" : ` (this version lacks ${listOf(missing)})`),
    ...features,
  };
}

/** `a`, `a and b`, `a, b and c`. */
function listOf(items: readonly string[]): string {
  return items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1) ?? ""}`;
}
