export { ImageSetError, type DesiredState, type ImageSetDocument, type ImageSetEntry } from "./imageset.ts";
export { DEFAULT_LIMITS, type ImageSetLimits } from "./limits.ts";
export { desiredStateFromImages, mergeImageSets } from "./merge.ts";
export { parseImageSet } from "./parse.ts";
export { listImageSetFiles } from "./files.ts";
export { readBoundedFile } from "./bounded-file.ts";
export {
  createImageSetReader,
  loadDesiredState,
  type ImageSetParser,
  type ImageSetReader,
} from "./reader.ts";
export { workerParser } from "./worker-parser.ts";
export { watchDesiredState, type DesiredStateWatcher } from "./watch.ts";
export {
  checkLock,
  findDrift,
  lockImageSet,
  selectEntries,
  type Drift,
  type LockChange,
  type LockCheck,
  type LockOptions,
} from "./lock.ts";
export { checkLockPlan, lockSetFiles, planLock, resolveTags, type SetFile } from "./lock-flow.ts";
export { serializeImageSet } from "./serialize.ts";
