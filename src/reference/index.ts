export { InvalidDigestError, isDigest, parseDigest, type DigestAlgorithm } from "./digest.ts";
export { formatHostPort, parseHostPort, type HostPort } from "./host-port.ts";
export {
  DEFAULT_DOMAIN,
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
  withDigest,
  withoutDigest,
  withoutTag,
  withTag,
  type ImageReference,
} from "./reference.ts";
export { redactUserinfo } from "./userinfo.ts";
