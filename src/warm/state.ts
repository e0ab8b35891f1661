import type { FailureKind } from "../failure/index.ts";

export type EntryState = "pending" | "pulling" | "present" | "failed" | "blocked" | "drifted";

export const ENTRY_STATES: readonly EntryState[] = [
  "pending",
  "pulling",
  "present",
  "failed",
  "blocked",
  "drifted",
];

/** What the agent knows about one entry; `/v1/status` serves these as they are. */
export interface EntryStatus {
  readonly image: string;
  /** Intended digest, or the one the runtime recorded when none was declared. */
  readonly digest: string | null;
  readonly state: EntryState;
  readonly imageId: string | null;
  readonly size: number | null;
  /** Failed attempts since the entry was last present. */
  readonly attempts: number;
  readonly lastPullSeconds: number | null;
  readonly errorKind: FailureKind | null;
  readonly message: string | null;
  /** ISO time of the next attempt while backing off. */
  readonly nextRetryAt: string | null;
  /** Where the registry's tag points now, for a drifted entry. */
  readonly registryDigest: string | null;
  /** Where prepull got the content from (a bundle or a registry); null when it was already there. */
  readonly source: "bundle" | "registry" | null;
}
