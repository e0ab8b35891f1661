export type {
  CallOptions,
  ImageFilesystemUsage,
  ImageRuntime,
  PullAuth,
  PullOptions,
  RuntimeImage,
  RuntimeVersion,
} from "./ports.ts";
export { ImageInventory, recordedDigest } from "./inventory.ts";
export {
  canonicalImage,
  digestName,
  effectiveTag,
  planEntry,
  planWarm,
  tagName,
  type EntryPlan,
  type WarmAction,
  type WarmTarget,
} from "./plan.ts";
export {
  executeEntryPlan,
  type EntryOutcome,
  type EntryResult,
  type TagResolver,
  type WarmDependencies,
} from "./execute.ts";
export { warmOnce, type WarmOnceOptions } from "./run.ts";
export { backoffDelay, DEFAULT_BACKOFF, spreadDelay, type BackoffPolicy } from "./backoff.ts";
export { createDiskGuard, type DiskGuard, type DiskVerdict } from "./disk-guard.ts";
export {
  WarmLoop,
  type RegistryAnswer,
  type RuntimeStatus,
  type WarmLogger,
  type WarmLoopEvents,
  type WarmLoopOptions,
  type WarmLoopStatus,
} from "./loop.ts";
export { ENTRY_STATES, type EntryState, type EntryStatus } from "./state.ts";
