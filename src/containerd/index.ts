export { createContainerdClient } from "./client.ts";
export { createImageNamer, type ImageRecordStore } from "./image-namer.ts";
export {
  UnsupportedApiError,
  type ContainerdApi,
  type ContainerdVersion,
  type ImageRecord,
  type IngestStatus,
} from "./types.ts";
export { probeContainerd } from "./capability.ts";
export { readBlobProgress, readIngestProgress, type BlobRef, type PullProgress } from "./progress.ts";
export { PullProgressWatch, type PullProgressView } from "./pull-progress-watch.ts";
