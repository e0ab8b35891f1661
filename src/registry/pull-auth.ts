import type { PullAuth } from "../cri/index.ts";
import type { ImageReference } from "../reference/index.ts";
import type { CredentialKeyring } from "./keyring.ts";

/**
 * The credential the runtime gets for a pull: the keyring's most specific match, as kubelet
 * would pick it. AuthConfig carries one credential, so later matches are not tried.
 */
export function pullAuthFrom(
  keyring: CredentialKeyring | undefined,
): (reference: ImageReference) => PullAuth | undefined {
  return (reference) => {
    const credential = keyring?.lookup(reference)[0];
    if (credential === undefined) return undefined;
    return credential.identityToken
      ? { identityToken: credential.identityToken }
      : { username: credential.username, password: credential.password };
  };
}
