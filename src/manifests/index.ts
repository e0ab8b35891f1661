export { MANIFEST_LIMITS, MIB } from "./limits.ts";
export { lintImages, reachesSeverity, RULE_IDS, type Finding, type Severity } from "./lint.ts";
export { pinManifest, type PinChange, type PinResult } from "./pin.ts";
export { digestsFromEntries, pinSources, resolveImageDigests, type DigestLookup } from "./pin-digests.ts";
export {
  scanManifests,
  type ManifestSource,
  type PullPolicy,
  type ScannedImage,
  type ScanResult,
  workloadName,
} from "./scan.ts";
export { readManifestSources } from "./sources.ts";
export { imagesToWarm, WarmedImages } from "./warmed.ts";
export { IGNORE_ANNOTATION, type ImageSource } from "./workloads.ts";
