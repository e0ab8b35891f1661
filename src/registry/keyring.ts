import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { InputError } from "../failure/index.ts";
import { repositoryName, type ImageReference } from "../reference/index.ts";

export interface RegistryCredential {
  readonly username: string;
  readonly password: string;
  readonly identityToken?: string;
  /** The file it came from; never secret. */
  readonly source: string;
}

interface KeyringEntry {
  readonly key: string;
  readonly url: URL;
  /** kubelet's index key: host and effective path, without scheme; the sort order. */
  readonly rank: string;
  readonly credential: RegistryCredential;
}

const authEntry = z
  .object({
    username: z.string().optional(),
    password: z.string().optional(),
    auth: z.string().optional(),
    identitytoken: z.string().optional(),
  })
  .loose();
const authMap = z.record(z.string(), authEntry);
const dockerConfig = z.object({ auths: authMap }).loose();

export class CredentialError extends InputError {
  constructor(message: string) {
    super(message, { source: "--docker-config" });
    this.name = "CredentialError";
  }
}

/**
 * kubelet's reading of a keyring key: `https://` unless it starts with `http://` or `https://`,
 * and a path starting with `/v1/` or `/v2/` loses those three characters (`/v1` alone, or
 * `/v1team`, stays).
 */
function parseKey(key: string): { url: URL; rank: string } | undefined {
  const withScheme = /^https?:\/\//.test(key) ? key : `https://${key}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (/^\/v[12]\//.test(url.pathname)) url.pathname = url.pathname.slice(3);
  const path = url.pathname === "/" ? "" : url.pathname;
  return { url, rank: `${url.host}${path}` };
}

/** An image's repository as a URL; unlike a key, its path is taken as written. */
function imageUrl(repository: string): URL | undefined {
  try {
    return new URL(`https://${repository}`);
  } catch {
    return undefined;
  }
}

function globMatches(pattern: string, label: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join("[^.]*")}$`,
    "i",
  );
  return regex.test(label);
}

/**
 * Whether a key matches an image the way kubelet's keyring decides it, with one deliberate
 * difference: kubelet takes the key's path as a plain string prefix (`host/team` matches
 * `host/teamwork/app`); here it must end at a path segment, so a team's credential never goes
 * to a neighbouring repository.
 */
function keyMatches(key: URL, target: URL): boolean {
  if (key.port !== target.port) return false;
  const keyLabels = key.hostname.split(".");
  const targetLabels = target.hostname.split(".");
  if (keyLabels.length !== targetLabels.length) return false;
  if (!keyLabels.every((label, i) => globMatches(label, targetLabels[i] ?? ""))) return false;
  const keyPath = key.pathname.replace(/\/+$/, "");
  return keyPath === "" || target.pathname === keyPath || target.pathname.startsWith(`${keyPath}/`);
}

/** Registry credentials, matched to images as kubelet matches them. */
export class CredentialKeyring {
  readonly #entries: readonly KeyringEntry[];

  private constructor(entries: readonly KeyringEntry[]) {
    // Most specific first: kubelet sorts its index keys (host and path, no scheme) in reverse
    // lexicographic order, so `host/team` comes before `host` however either was written.
    this.#entries = [...entries].sort((a, b) => (a.rank < b.rank ? 1 : a.rank > b.rank ? -1 : 0));
  }

  static empty(): CredentialKeyring {
    return new CredentialKeyring([]);
  }

  static merge(keyrings: readonly CredentialKeyring[]): CredentialKeyring {
    return new CredentialKeyring(keyrings.flatMap((keyring) => keyring.#entries));
  }

  static fromEntries(
    entries: ReadonlyArray<{ key: string; credential: RegistryCredential }>,
  ): CredentialKeyring {
    return new CredentialKeyring(
      entries.flatMap(({ key, credential }) => {
        const parsed = parseKey(key);
        return parsed === undefined ? [] : [{ key, ...parsed, credential }];
      }),
    );
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Every credential that matches, most specific first. */
  lookup(reference: ImageReference): RegistryCredential[] {
    const target = imageUrl(repositoryName(reference));
    if (target === undefined) return [];
    const matches = this.#entries.filter((entry) => keyMatches(entry.url, target));
    if (matches.length > 0 || reference.domain !== "docker.io")
      return matches.map((entry) => entry.credential);
    // Docker Hub images also match keys written for index.docker.io.
    const hub = imageUrl(`index.docker.io/${reference.path}`);
    return hub === undefined
      ? []
      : this.#entries.filter((entry) => keyMatches(entry.url, hub)).map((e) => e.credential);
  }
}

function decodeAuth(auth: string, key: string, source: string): { username: string; password: string } {
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new CredentialError(`${source}: auths["${key}"].auth is not base64 of user:password`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Reads docker `config.json`, `.dockerconfigjson` (`{auths}`) or legacy `.dockercfg` (bare map). */
export function parseDockerConfig(text: string, source: string): CredentialKeyring {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Never echo the text: it holds secrets.
    throw new CredentialError(`${source}: not valid JSON`);
  }
  const withAuths = dockerConfig.safeParse(json);
  const legacy = withAuths.success ? undefined : authMap.safeParse(json);
  const auths = withAuths.success ? withAuths.data.auths : legacy?.success ? legacy.data : undefined;
  if (auths === undefined) {
    throw new CredentialError(
      `${source}: expected {"auths": {"<registry>": {...}}} or a legacy .dockercfg map`,
    );
  }
  return CredentialKeyring.fromEntries(
    Object.entries(auths).map(([key, entry]) => {
      const fromAuth = entry.auth ? decodeAuth(entry.auth, key, source) : undefined;
      const credential: RegistryCredential = {
        username: entry.username ?? fromAuth?.username ?? "",
        password: entry.password ?? fromAuth?.password ?? "",
        ...(entry.identitytoken ? { identityToken: entry.identitytoken } : {}),
        source,
      };
      return { key, credential };
    }),
  );
}

const SECRET_KEYS = [".dockerconfigjson", ".dockercfg", "config.json"];

/** Loads credential files, or the credential keys of a mounted Secret directory. */
export async function loadKeyring(paths: readonly string[]): Promise<CredentialKeyring> {
  const keyrings: CredentialKeyring[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) throw new CredentialError(`${path}: no such file or directory`);
    const files = info.isDirectory()
      ? (await readdir(path)).filter((name) => SECRET_KEYS.includes(name)).map((name) => join(path, name))
      : [path];
    if (files.length === 0) throw new CredentialError(`${path}: holds none of ${SECRET_KEYS.join(", ")}`);
    for (const file of files) keyrings.push(parseDockerConfig(await readFile(file, "utf8"), file));
  }
  return CredentialKeyring.merge(keyrings);
}
