export { lintContainers, RULE_IDS, SEVERITY_RANK, warmKey, type Finding, type Severity } from "./lint.ts";
export { pinManifest, pinnedImage, type PinChange, type PinResult } from "./pin.ts";
export {
  containerLabel,
  defaultPullPolicy,
  scanManifests,
  type ManifestSource,
  type PullPolicy,
  type ScanError,
  type ScannedContainer,
  type ScanResult,
  workloadName,
} from "./scan.ts";
export { ManifestSourceError, readManifestSources } from "./sources.ts";
export { IGNORE_ANNOTATION } from "./workloads.ts";
