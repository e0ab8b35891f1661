export { startContainerd, unmountUnder, type ContainerdInstance, type KubeletSupport } from "./containerd.ts";
export { startRegistry, type RegistryInstance, type RegistryOptions } from "./registry.ts";
export {
  deleteManifest,
  pushArtifact,
  pushImage,
  pushIndex,
  tagImage,
  type FileLayer,
  type LayerSpec,
  type PushedImage,
} from "./images.ts";
export { sandboxPublisher } from "./publish.ts";
export { skopeoCopy } from "./skopeo.ts";
export {
  startFaultProxy,
  startHangingServer,
  startThrottledBlobProxy,
  type FaultBehaviour,
  type FaultServer,
} from "./faults.ts";
export { generateCertificates, type GeneratedCertificates } from "./tls.ts";
export {
  DEFAULT_RUNTIME,
  RUNTIME_NAMES,
  RUNTIME_VARIABLE,
  runtimeBinaries,
  selectedRuntimeName,
  type RuntimeBinaries,
  type RuntimeName,
} from "./runtimes.ts";
export { mountSmallFilesystem, type SmallFilesystem } from "./small-fs.ts";
