const DIGEST_SHAPE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[A-Za-z0-9=_-]+$/;

/**
 * Text fit to quote back for something written as an image reference: a `user:password@` (with
 * or without a scheme) before the registry is replaced. `name:tag@sha256:…` is left alone, since
 * what follows its `@` is a digest.
 */
export function redactUserinfo(text: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? "";
  const rest = text.slice(scheme.length);
  const authority = rest.split("/", 1)[0] ?? "";
  const at = authority.lastIndexOf("@");
  if (at < 0) return text;
  const userinfo = authority.slice(0, at);
  const remainder = rest.slice(at + 1);
  const secretLike = scheme !== "" || (userinfo.includes(":") && !DIGEST_SHAPE.test(remainder));
  return secretLike ? `${scheme}***@${remainder}` : text;
}
