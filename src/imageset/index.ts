export {
  desiredStateFromImages,
  generationOf,
  ImageSetError,
  mergeImageSets,
  parseImageSet,
  type DesiredState,
  type ImageSetDocument,
  type ImageSetEntry,
} from "./imageset.ts";
export { imageSetFiles, loadDesiredState, watchDesiredState, type DesiredStateWatcher } from "./load.ts";
export { findDrift, lockImageSet, serializeImageSet, updateLockedDigests } from "./lock.ts";
