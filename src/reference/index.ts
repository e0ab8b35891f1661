export { parseDigest, type DigestAlgorithm } from "./digest.ts";
export { formatHostPort, parseHostPort, type HostPort } from "./host-port.ts";
export {
  DEFAULT_TAG,
  effectiveTag,
  familiarReference,
  formatReference,
  InvalidReferenceError,
  isLoopbackRegistry,
  kubeletImageString,
  manifestReference,
  parseReference,
  registryApiHost,
  repositoryName,
  sameImageName,
  tryParseReference,
  withDefaultTag,
  type ImageReference,
} from "./reference.ts";
