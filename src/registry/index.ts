export {
  createRegistryClient,
  nodePlatform,
  type Platform,
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
export { pullAuthFrom } from "./pull-auth.ts";
