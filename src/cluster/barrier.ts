import type { FailureKind } from "../failure/index.ts";
import {
  formatReference,
  repositoryName,
  tryParseReference,
  withDefaultTag,
  type ImageReference,
} from "../reference/index.ts";
import type { AgentReport, ReportedEntry } from "./report.ts";

/** What "warm" means for a wait: each agent's own set, one generation, or a list of images. */
export type WaitTarget =
  | { readonly kind: "own" }
  | { readonly kind: "generation"; readonly generation: string }
  | { readonly kind: "images"; readonly images: readonly ImageReference[] };

/**
 * `warm`: done. `waiting`: not yet, may still get there. `failed`: will not get there without
 * someone acting (an image that does not exist, refused credentials, a moved tag, a broken
 * config). `unreachable`: no status answer; counts as not warm.
 */
export type NodeState = "warm" | "waiting" | "failed" | "unreachable";

export interface MissingImage {
  readonly image: string;
  /** The entry's state, or `not-in-set` for a wanted image the agent's set lacks. */
  readonly state: ReportedEntry["state"] | "not-in-set";
  readonly errorKind: FailureKind | null;
  readonly message: string | null;
}

export interface NodeVerdict {
  readonly agent: string;
  readonly node: string | null;
  readonly generation: string | null;
  readonly state: NodeState;
  /** Entries present out of those the target asks for, when known. */
  readonly present: number;
  readonly total: number;
  readonly reason: string;
  readonly missing: readonly MissingImage[];
  /** The agent's readiness gate (docs/readiness-gate.md); null when it reports none. */
  readonly gate: "open" | "closed" | null;
}

export interface BarrierVerdict {
  readonly done: boolean;
  /** True when some node failed in a way waiting will not fix. */
  readonly failed: boolean;
  readonly reason: string;
  readonly nodes: readonly NodeVerdict[];
}

/**
 * Error kinds that retrying does not fix: someone has to change the set, the registry, a Secret
 * or the runtime.
 */
const DEFINITE_KINDS: ReadonlySet<FailureKind> = new Set(["not_found", "auth", "invalid", "unsupported"]);

function isDefinite(entry: ReportedEntry): boolean {
  return (
    entry.state === "drifted" ||
    (entry.state === "failed" && entry.errorKind !== null && DEFINITE_KINDS.has(entry.errorKind))
  );
}

/**
 * Does the agent's entry stand for the image the wait asks for? Names compare canonically; a
 * wanted tag must match (`latest` when neither tag nor digest is written, as kubelet defaults);
 * a wanted digest must be the entry's.
 */
function entryMatches(wanted: ImageReference, entry: ReportedEntry): boolean {
  const parsed = tryParseReference(entry.image);
  if (!parsed.ok) return false;
  const have = withDefaultTag(parsed.reference);
  const want = withDefaultTag(wanted);
  if (repositoryName(have) !== repositoryName(want)) return false;
  if (want.tag !== undefined && want.tag !== have.tag) return false;
  return want.digest === undefined || want.digest === (have.digest ?? entry.digest);
}

function missingOf(entries: readonly ReportedEntry[]): MissingImage[] {
  return entries
    .filter((entry) => entry.state !== "present")
    .map(({ image, state, errorKind, message }) => ({ image, state, errorKind, message }));
}

function describeMissing(missing: readonly MissingImage[]): string {
  const first = missing[0];
  if (first === undefined) return "";
  const why = first.errorKind === null ? first.state : `${first.state} (${first.errorKind})`;
  const more = missing.length > 1 ? ` and ${String(missing.length - 1)} more` : "";
  return `${first.image}: ${why}${more}`;
}

/** One agent's standing against the target. Pure: the report is what its /v1/status said. */
export function judgeNode(report: AgentReport, target: WaitTarget): NodeVerdict {
  const base = {
    agent: report.agent,
    node: null,
    generation: null,
    present: 0,
    total: 0,
    missing: [],
    gate: null,
  };
  if (report.status === undefined) {
    return { ...base, state: "unreachable", reason: report.error ?? "no answer" };
  }
  const status = report.status;
  const gate = status.gate === null ? null : status.gate.open ? ("open" as const) : ("closed" as const);
  const known = { ...base, node: status.node, generation: status.generation, gate };
  if (status.config.error !== null) {
    return { ...known, state: "failed", reason: `config error: ${status.config.error.message}` };
  }
  if (!status.runtime.reachable) {
    return {
      ...known,
      state: "waiting",
      reason: `runtime unreachable: ${status.runtime.error ?? "no answer"}`,
    };
  }
  if (target.kind === "generation" && status.generation !== target.generation) {
    return {
      ...known,
      state: "waiting",
      reason: `at generation ${status.generation}, waiting for ${target.generation} (config not yet delivered?)`,
    };
  }

  let entries: readonly ReportedEntry[] = status.entries;
  const absent: MissingImage[] = [];
  if (target.kind === "images") {
    entries = [];
    for (const wanted of target.images) {
      const match = status.entries.find((entry) => entryMatches(wanted, entry));
      if (match === undefined) {
        absent.push({ image: formatReference(wanted), state: "not-in-set", errorKind: null, message: null });
      } else {
        entries = [...entries, match];
      }
    }
  }
  const missing = [...absent, ...missingOf(entries)];
  const total = entries.length + absent.length;
  const present = total - missing.length;
  const counted = { ...known, present, total, missing };
  if (missing.length === 0) {
    const warm = target.kind === "images" || status.warm;
    return {
      ...counted,
      state: warm ? "warm" : "waiting",
      reason: warm ? "warm" : "first pass not finished",
    };
  }
  const definite = entries.filter(isDefinite);
  if (definite.length > 0) {
    return { ...counted, state: "failed", reason: describeMissing(missingOf(definite)) };
  }
  return {
    ...counted,
    state: "waiting",
    reason:
      absent.length > 0 ? `${describeMissing(absent)} (config not yet delivered?)` : describeMissing(missing),
  };
}

/** The barrier over every agent: done when all are warm (and, for `own`, agree on a generation). */
export function judgeBarrier(
  reports: readonly AgentReport[],
  target: WaitTarget,
  options: { minAgents?: number; minAgentsSource?: string } = {},
): BarrierVerdict {
  const nodes = reports
    .map((report) => judgeNode(report, target))
    .sort((a, b) => (a.node ?? a.agent).localeCompare(b.node ?? b.agent));
  const minAgents = options.minAgents ?? 1;
  const failed = nodes.some((node) => node.state === "failed");
  const warm = nodes.filter((node) => node.state === "warm").length;
  const generations = new Set(nodes.flatMap((node) => (node.generation === null ? [] : [node.generation])));
  let reason = `${String(warm)}/${String(nodes.length)} agents warm`;
  let done = !failed && nodes.length >= minAgents && warm === nodes.length;
  if (nodes.length < minAgents) {
    const source = options.minAgentsSource === undefined ? "" : ` (${options.minAgentsSource})`;
    reason += `, waiting for at least ${String(minAgents)} agents${source}`;
  } else if (done && target.kind === "own" && generations.size > 1) {
    done = false;
    reason += `, but at ${String(generations.size)} different generations (${[...generations].join(", ")}): config still rolling out`;
  }
  return { done, failed, reason, nodes };
}
