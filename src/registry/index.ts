export {
  createRegistryClient,
  type RegistryClient,
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
