/**
 * Two placeholders, each where users already read it: `[redacted]` for secrets cut out of runtime
 * and registry messages (and by the logger), `***` for the userinfo cut out of a reference or URL
 * quoted back (`***@registry.example.com/app`).
 */
const REDACTED = "[redacted]";
const USERINFO = "***";

/**
 * Runtime and registry messages sometimes echo URLs or headers; remove anything secret before the
 * text can reach a log, a status report or an error message. `secrets` are known values (the
 * password of this pull); the patterns catch credentials by shape.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 3) out = out.split(secret).join(REDACTED);
  }
  return out
    .replace(/(\/\/)[^/@\s:]+:[^/@\s]+@/g, `$1${REDACTED}@`)
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`)
    .replace(/\b((?:access_)?token|password|auth)=([^&\s"]+)/gi, `$1=${REDACTED}`);
}

const DIGEST_SHAPE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[A-Za-z0-9=_-]+$/;
/**
 * What a registry is written as at the start of a reference, the Docker way: `localhost`, a
 * dotted name or an address (either with an optional port), or a name with a port.
 */
const REGISTRY_HOST = /^(?:(?:localhost|\[[0-9A-Fa-f:.]+\]|[\w-]+(?:\.[\w-]+)+)(?::\d+)?|[\w-]+:\d+)$/;

/**
 * Text fit to quote back for something written as an image reference: the userinfo before the
 * registry is replaced, whether a `user:password@`, a token alone (`TOKEN@registry.example.com`)
 * or anything after a scheme. `name:tag@sha256:…` is left alone, since what follows its `@` is a
 * digest, and so is `name@latest`, whose `@` is followed by no registry.
 */
export function redactUserinfo(text: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? "";
  const rest = text.slice(scheme.length);
  const authority = rest.split("/", 1)[0] ?? "";
  const at = authority.lastIndexOf("@");
  if (at < 0) return text;
  const userinfo = authority.slice(0, at);
  const remainder = rest.slice(at + 1);
  const registry = authority.slice(at + 1);
  const secretLike =
    scheme !== "" ||
    (!DIGEST_SHAPE.test(remainder) && (userinfo.includes(":") || REGISTRY_HOST.test(registry)));
  return secretLike ? `${scheme}${USERINFO}@${remainder}` : text;
}

/** A URL, or text holding URLs, with every `user:password@` replaced: fit for messages and status. */
export function redactUrl(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi, `$1${USERINFO}@`);
}
