import type { ImageReference } from "../reference/index.ts";
import type { CredentialKeyring } from "./keyring.ts";

/**
 * Credentials for one pull, as plain fields: the shape CRI's `AuthConfig` carries. Declared here
 * so the registry depends on no runtime adapter; consumers' own types accept it structurally.
 */
export interface RegistryPullAuth {
  readonly username?: string;
  readonly password?: string;
  readonly identityToken?: string;
}

/**
 * The credential the runtime gets for a pull: the keyring's most specific match, as kubelet
 * would pick it. AuthConfig carries one credential, so later matches are not tried.
 */
export function pullAuthFrom(
  keyring: CredentialKeyring | undefined,
): (reference: ImageReference) => RegistryPullAuth | undefined {
  return (reference) => {
    const credential = keyring?.lookup(reference)[0];
    if (credential === undefined) return undefined;
    return credential.identityToken
      ? { identityToken: credential.identityToken }
      : { username: credential.username, password: credential.password };
  };
}
