import type { EntryState } from "../warm/index.ts";

/**
 * Why the gate is open or closed: the node condition's `reason` (CamelCase, as Kubernetes
 * condition reasons are), the same word in /v1/status, /v1/gate and the logs.
 */
export type GateReason =
  | "ImagesWarm"
  | "NothingGated"
  | "FirstPassPending"
  | "WaitingForImages"
  | "ImagesFailing"
  | "DeadlineOpened"
  | "DeadlineHeld";

export interface GateEntry {
  readonly image: string;
  readonly state: EntryState;
  readonly errorKind: string | null;
  /** False for entries only sets with `spec.gate: false` name. */
  readonly gated: boolean;
}

export interface GateVerdict {
  readonly open: boolean;
  readonly reason: GateReason;
  /** One line for a person, naming at most a few images. */
  readonly message: string;
}

/** Images a message names before it says how many more there are. */
const NAMED = 3;

function listed(entries: readonly GateEntry[], describe: (entry: GateEntry) => string): string {
  const shown = entries.slice(0, NAMED).map(describe);
  const more = entries.length - shown.length;
  return more > 0 ? `${shown.join(", ")} and ${String(more)} more` : shown.join(", ");
}

const failing = (entry: GateEntry): boolean => entry.state === "failed" || entry.state === "drifted";

/**
 * Whether the node's gated images are warm now: present at their intended digests for the
 * current generation. Failed and drifted entries keep it closed and are named first, since
 * waiting alone will not fix them; pending, pulling and disk-blocked ones are named as awaited.
 */
export function judgeGate(entries: readonly GateEntry[], firstPassDone: boolean): GateVerdict {
  const gated = entries.filter((entry) => entry.gated);
  if (gated.length === 0) {
    return { open: true, reason: "NothingGated", message: "no ImageSet gates this node (spec.gate: false)" };
  }
  if (!firstPassDone) {
    return {
      open: false,
      reason: "FirstPassPending",
      message: "the agent has not checked the node's images yet",
    };
  }
  const notWarm = gated.filter((entry) => entry.state !== "present");
  const warm = `${String(gated.length - notWarm.length)}/${String(gated.length)} gated images warm`;
  if (notWarm.length === 0) return { open: true, reason: "ImagesWarm", message: warm };
  const broken = notWarm.filter(failing);
  if (broken.length > 0) {
    const why = (entry: GateEntry): string =>
      `${entry.image} ${entry.state}${entry.errorKind === null ? "" : ` (${entry.errorKind})`}`;
    return { open: false, reason: "ImagesFailing", message: `${warm}; ${listed(broken, why)}` };
  }
  return {
    open: false,
    reason: "WaitingForImages",
    message: `${warm}; waiting for ${listed(notWarm, (entry) => `${entry.image} (${entry.state})`)}`,
  };
}
