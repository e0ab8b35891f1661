export {
  createRegistryClient,
  MAX_INDEX_DEPTH,
  type RegistryClient,
  type PullSize,
  type RegistryClientOptions,
  type RegistryLogger,
  type ResolvedImage,
  type ResolveOptions,
} from "./client.ts";
export {
  loadRegistryHosts,
  parseHostsToml,
  RegistryHosts,
  type RegistryEndpoint,
  type RegistryHostConfig,
} from "./hosts.ts";
export {
  CredentialError,
  CredentialKeyring,
  loadKeyring,
  parseDockerConfig,
  type RegistryCredential,
} from "./keyring.ts";
export { nodePlatform, type Platform } from "./platform.ts";
export { pullAuthFrom, type RegistryPullAuth } from "./pull-auth.ts";
export {
  isIndex,
  parseManifestDocument,
  sha256Digest,
  type ImageIndex,
  type ImageManifest,
  type ManifestDocument,
} from "./documents.ts";
export { selectManifest } from "./platform.ts";
export { platformMatches } from "./platform.ts";
export {
  type BlobFetchOptions,
  type ContentDescriptor,
  type ContentFetcher,
  type FetchedManifest,
  type FetchOptions,
} from "./content.ts";
