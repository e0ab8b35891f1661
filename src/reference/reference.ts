import { InputError, redactUserinfo } from "../failure/index.ts";

/**
 * Image references as distribution/reference reads them (the grammar containerd, CRI-O and
 * kubelet share): `[domain/]path[:tag][@digest]`, normalised the Docker way (`docker.io`,
 * `library/`). Pure: no I/O.
 */

import { digestProblem } from "./digest.ts";

export interface ImageReference {
  /** Registry as written; `docker.io` when the reference names none. */
  readonly domain: string;
  /** Repository path inside the registry, with `library/` for one-component Docker Hub names. */
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

export class InvalidReferenceError extends InputError {
  declare readonly reference: string;
  readonly reason: string;
  readonly offset: number | undefined;

  constructor(reference: string, reason: string, offset?: number) {
    super(
      `invalid image reference "${redactUserinfo(reference)}": ${reason}${offset === undefined ? "" : ` (at character ${offset + 1})`}`,
      { reference: redactUserinfo(reference) },
    );
    this.name = "InvalidReferenceError";
    this.reason = reason;
    this.offset = offset;
  }
}

const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const DOCKER_HUB_API_HOST = "registry-1.docker.io";
/** distribution/reference's RepositoryNameTotalLengthMax: it bounds the path, not the domain. */
const REPOSITORY_PATH_LENGTH_MAX = 255;
/** The tag kubelet, containerd and docker read when a reference names neither tag nor digest. */
export const DEFAULT_TAG = "latest";
const TAG_LENGTH_MAX = 128;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const TAG = /^\w[\w.-]*$/;
const IMAGE_ID = /^[a-f0-9]{64}$/;

function checkDomain(input: string, domain: string): void {
  const portStart = domain.startsWith("[") ? domain.indexOf("]") + 1 : domain.indexOf(":");
  const host = portStart > 0 && portStart < domain.length ? domain.slice(0, portStart) : domain;
  const port = host === domain ? undefined : domain.slice(host.length);
  if (port !== undefined && !/^:[0-9]+$/.test(port)) {
    throw new InvalidReferenceError(input, `registry port "${port.slice(1)}" must be a number`, host.length);
  }
  if (host.startsWith("[")) {
    if (!IPV6_HOST.test(host))
      throw new InvalidReferenceError(input, `malformed IPv6 registry address "${host}"`, 0);
    return;
  }
  let offset = 0;
  for (const label of host.split(".")) {
    if (!DOMAIN_COMPONENT.test(label)) {
      throw new InvalidReferenceError(
        input,
        label === ""
          ? `registry host "${host}" has an empty label`
          : `registry host label "${label}" may hold only letters, digits and inner hyphens`,
        offset,
      );
    }
    offset += label.length + 1;
  }
}

function checkPath(input: string, path: string, pathOffset: number): void {
  let offset = pathOffset;
  for (const component of path.split("/")) {
    if (component === "") {
      throw new InvalidReferenceError(
        input,
        "empty path component (a doubled, leading or trailing '/')",
        offset,
      );
    }
    if (!PATH_COMPONENT.test(component)) {
      throw new InvalidReferenceError(input, pathComponentProblem(component), offset);
    }
    offset += component.length + 1;
  }
}

function pathComponentProblem(component: string): string {
  if (/[A-Z]/.test(component)) return "repository name must be lowercase";
  const bad = /[^a-z0-9._-]/.exec(component);
  if (bad !== null) return `invalid character "${bad[0]}" in repository name`;
  if (!/^[a-z0-9]/.test(component) || !/[a-z0-9]$/.test(component)) {
    return `path component "${component}" must start and end with a lowercase letter or digit`;
  }
  return `path component "${component}" has an invalid separator: use ".", "_", "__" or dashes between letters or digits`;
}

/** Reads a reference and normalises it; no default tag is added. */
export function parseReference(input: string): ImageReference {
  if (input.length === 0) throw new InvalidReferenceError(input, "empty reference");
  if (/\s/.test(input))
    throw new InvalidReferenceError(input, "whitespace is not allowed", /\s/.exec(input)?.index);

  let rest = input;
  let digest: string | undefined;
  const at = input.indexOf("@");
  if (at >= 0) {
    digest = input.slice(at + 1);
    rest = input.slice(0, at);
    if (digest === "") throw new InvalidReferenceError(input, "'@' must be followed by a digest", at);
    const problem = digestProblem(digest);
    if (problem !== undefined) throw new InvalidReferenceError(input, problem, at + 1);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag === "") throw new InvalidReferenceError(input, "':' must be followed by a tag", colon);
    if (tag.length > TAG_LENGTH_MAX) {
      throw new InvalidReferenceError(input, `tag is longer than ${TAG_LENGTH_MAX} characters`, colon + 1);
    }
    if (!TAG.test(tag)) {
      throw new InvalidReferenceError(
        input,
        `invalid tag "${tag}": use letters, digits, "_", "." and "-", not starting with "." or "-"`,
        colon + 1,
      );
    }
  }
  if (rest === "") throw new InvalidReferenceError(input, "missing repository name", 0);
  if (tag === undefined && digest === undefined && IMAGE_ID.test(rest)) {
    throw new InvalidReferenceError(
      input,
      "a 64-character hexadecimal string is an image ID, not a repository name",
    );
  }

  const slash = rest.indexOf("/");
  const first = slash === -1 ? rest : rest.slice(0, slash);
  const hasDomain =
    slash !== -1 &&
    (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase());
  let domain = hasDomain ? first : DEFAULT_DOMAIN;
  let path = hasDomain ? rest.slice(slash + 1) : rest;
  const pathOffset = hasDomain ? slash + 1 : 0;
  if (hasDomain) {
    if (first === "") throw new InvalidReferenceError(input, "empty registry host", 0);
    checkDomain(input, domain);
  }
  checkPath(input, path, pathOffset);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = `library/${path}`;
  if (path.length > REPOSITORY_PATH_LENGTH_MAX) {
    throw new InvalidReferenceError(
      input,
      `repository path is ${path.length} characters (${path.slice(0, 20)}…); the limit is ${REPOSITORY_PATH_LENGTH_MAX}`,
    );
  }
  return { domain, path, tag, digest };
}

export function tryParseReference(
  input: string,
): { ok: true; reference: ImageReference } | { ok: false; error: InvalidReferenceError } {
  try {
    return { ok: true, reference: parseReference(input) };
  } catch (error) {
    if (error instanceof InvalidReferenceError) return { ok: false, error };
    throw error;
  }
}

/** `docker.io/library/nginx`: the name the runtime keys images by. */
export function repositoryName(reference: ImageReference): string {
  return `${reference.domain}/${reference.path}`;
}

function withParts(name: string, reference: ImageReference): string {
  return `${name}${reference.tag === undefined ? "" : `:${reference.tag}`}${reference.digest === undefined ? "" : `@${reference.digest}`}`;
}

/** The canonical form the runtime records, e.g. `docker.io/library/nginx:1.25`. */
export function formatReference(reference: ImageReference): string {
  return withParts(repositoryName(reference), reference);
}

/** The shortest equivalent form, as docker prints it: `nginx:1.25`, `ghcr.io/a/b@sha256:…`. */
export function familiarReference(reference: ImageReference): string {
  if (reference.domain !== DEFAULT_DOMAIN) return formatReference(reference);
  const path =
    reference.path.startsWith("library/") && reference.path.split("/").length === 2
      ? reference.path.slice("library/".length)
      : reference.path;
  // A familiar name whose first component looks like a host would be read back as a domain.
  const first = path.split("/")[0] ?? "";
  const ambiguous =
    path.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  return withParts(ambiguous ? `${DEFAULT_DOMAIN}/${path}` : path, reference);
}

/** The tag kubelet looks an image up by: its own, or `latest` when it names neither tag nor digest. */
export function effectiveTag(reference: ImageReference): string | undefined {
  if (reference.tag !== undefined) return reference.tag;
  return reference.digest === undefined ? DEFAULT_TAG : undefined;
}

/** The reference with kubelet's default tag made explicit. */
export function withDefaultTag(reference: ImageReference): ImageReference {
  return { ...reference, tag: effectiveTag(reference) };
}

/** What a registry's manifest endpoint is asked for: the digest when known, else the (default) tag. */
export function manifestReference(reference: ImageReference): string {
  return reference.digest ?? reference.tag ?? DEFAULT_TAG;
}

/**
 * The exact string kubelet hands to ImageStatus: the pod's string, with `:latest` appended
 * (a plain string append) when it parses and names neither tag nor digest.
 */
export function kubeletImageString(podImage: string): string {
  const parsed = tryParseReference(podImage);
  if (!parsed.ok) return podImage;
  const { tag } = parsed.reference;
  const implied = effectiveTag(parsed.reference);
  return tag === undefined && implied !== undefined ? `${podImage}:${implied}` : podImage;
}

/** The host to contact for a reference's registry API. */
export function registryApiHost(reference: ImageReference): string {
  return reference.domain === DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : reference.domain;
}

/** Registries containerd and Docker reach over plain HTTP without being told: loopback ones. */
export function isLoopbackRegistry(domain: string): boolean {
  const host = domain.startsWith("[")
    ? domain.slice(0, domain.indexOf("]") + 1)
    : domain.replace(/:\d+$/, "");
  if (host === "localhost" || host === "[::1]") return true;
  const octets = host.split(".");
  return (
    octets.length === 4 &&
    octets[0] === "127" &&
    octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255)
  );
}

export function sameImageName(a: string, b: string): boolean {
  const left = tryParseReference(a);
  const right = tryParseReference(b);
  return left.ok && right.ok && repositoryName(left.reference) === repositoryName(right.reference);
}
