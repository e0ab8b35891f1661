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
  return secretLike ? `${scheme}***@${remainder}` : text;
}
