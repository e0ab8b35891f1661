export type {
  CallOptions,
  ContentSource,
  ImageFilesystemUsage,
  ImageImporter,
  ImageNamer,
  ImageRuntime,
  ImportOutcome,
  ImportRequest,
  PullAuth,
  PullOptions,
  RuntimeImage,
  RuntimeVersion,
} from "./ports.ts";
export { ImageInventory, recordedDigest } from "./inventory.ts";
export {
  digestName,
  effectiveTag,
  planEntry,
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
export { startWarmPass, type PassDependencies, type SizeLookup } from "./pass.ts";
export { warmOnce, type WarmOnceOptions } from "./run.ts";
export {
  backoffDelay,
  DEFAULT_BACKOFF,
  spreadDelay,
  type BackoffPolicy,
  type RetryPolicies,
} from "./backoff.ts";
export { createDiskGuard, imageFilesystemOf, imageFilesystemUse, type DiskGuard } from "./disk-guard.ts";
export type { RuntimeStatus } from "./runtime-health.ts";
export type { WarmLogger, WarmLoopEvents } from "./events.ts";
export {
  WarmScheduler,
  type ScheduledEntry,
  type SettledPass,
  type WarmSchedulerOptions,
  type WarmStatus,
} from "./scheduler.ts";
export { CRI_IMAGE_LABELS } from "./cri-record.ts";
export { ENTRY_STATES, type EntryState, type EntryStatus } from "./state.ts";
export { entryKey, type EntryFaults } from "./entries.ts";
export type { GenerationTimes } from "./generation-timing.ts";
// src/http names pin reasons through here; pins' own face is src/pins/index.ts.
export type { PinReason } from "../pins/index.ts";
