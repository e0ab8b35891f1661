export { createContainerdClient, type ContainerdClientOptions } from "./client.ts";
export {
  CRI_NAMESPACE,
  UnsupportedApiError,
  type ContainerdApi,
  type ContainerdVersion,
  type ImageRecord,
  type ImageTarget,
  type IngestStatus,
} from "./types.ts";
export {
  pinningSupport,
  probeContainerd,
  type Capability,
  type ContainerdCapabilities,
} from "./capability.ts";
export {
  labelFilter,
  OWNER_LABEL,
  OWNER_VALUE,
  PIN_LABEL,
  PIN_VALUE,
  recordPin,
  type RecordPin,
} from "./labels.ts";
export { applyPinPlan, readPinInventory, syncPins, type PinOutcome } from "./pins.ts";
export {
  MAX_BLOBS,
  readBlobProgress,
  readIngestProgress,
  summariseIngests,
  type BlobRef,
  type PullProgress,
} from "./progress.ts";
export { PullProgressWatch, type PullProgressView } from "./pull-progress-watch.ts";
