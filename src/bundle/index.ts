export * from "./layout.ts";
export { writeArchive } from "./archive.ts";
export { LayoutWriter } from "./layout-writer.ts";
export { bundleName } from "./names.ts";
export {
  chooseChildren,
  manifestBlobs,
  planEntry,
  type BlobDescriptor,
  type DocumentFetcher,
  type EntryPlan,
  type PlannedDocument,
} from "./plan.ts";
export {
  DEFAULT_CHOICE,
  DEFAULT_PLATFORMS,
  describeChoice,
  formatPlatform,
  parsePlatform,
  type PlatformChoice,
} from "./platforms.ts";
export {
  writeBundle,
  type BundledEntry,
  type BundleEntry,
  type BundleOptions,
  type BundleProgress,
  type BundleResult,
} from "./write-bundle.ts";
export { BundleReader, type BundleCatalog, type BundleProblem } from "./catalog.ts";
export {
  createBundleImporter,
  type BundleImporter,
  type BundleImporterOptions,
  type ImportProgress,
} from "./importer.ts";
export { BundleError, openLayoutSource, type LayoutSource } from "./layout-source.ts";
export type { ImageStore } from "./ports.ts";
