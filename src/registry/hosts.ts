import { readdir, readFile } from "node:fs/promises";
import { isAbsolute, join, posix } from "node:path";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { InputError, redactUrl } from "../failure/index.ts";
import { isLoopbackRegistry } from "../reference/index.ts";

/** One place to contact for a registry: a mirror or the upstream itself. */
export interface RegistryEndpoint {
  /** `https://mirror.local:5000/prefix`: no trailing slash and never any `user:password@`. */
  readonly url: string;
  /** Where `<name>/manifests/<ref>` is appended: `…/v2`, or the URL's own path with `override_path`. */
  readonly apiRoot: string;
  readonly capabilities: readonly string[];
  /** PEM files of CAs to trust for this endpoint. */
  readonly caFiles: readonly string[];
  readonly skipVerify: boolean;
  /** Whether the endpoint is a mirror (containerd then adds `?ns=<registry>`). */
  readonly mirror: boolean;
}

export interface RegistryHostConfig {
  /** Endpoints in the order containerd tries them: mirrors, then the server. */
  readonly endpoints: readonly RegistryEndpoint[];
}

/** containerd's `config_path` tree: `<host>/hosts.toml`, plus `_default`. */
export class RegistryHosts {
  readonly #byHost: ReadonlyMap<string, RegistryHostConfig>;

  constructor(byHost: ReadonlyMap<string, RegistryHostConfig>) {
    this.#byHost = byHost;
  }

  static empty(): RegistryHosts {
    return new RegistryHosts(new Map());
  }

  /** The configuration containerd would use for `host`, if any. */
  forHost(host: string): RegistryHostConfig | undefined {
    return this.#byHost.get(host) ?? this.#byHost.get("_default");
  }
}

const hostEntry = z
  .object({
    capabilities: z.array(z.string()).optional(),
    ca: z.union([z.string(), z.array(z.string())]).optional(),
    skip_verify: z.boolean().optional(),
    override_path: z.boolean().optional(),
  })
  .loose();
const hostsFile = z
  .object({
    server: z.string().optional(),
    capabilities: z.array(z.string()).optional(),
    ca: z.union([z.string(), z.array(z.string())]).optional(),
    skip_verify: z.boolean().optional(),
    override_path: z.boolean().optional(),
    host: z.record(z.string(), hostEntry).optional(),
  })
  .loose();

const ALL_CAPABILITIES = ["pull", "resolve", "push"];

function list(value: string | string[] | undefined, dir: string): string[] {
  const items = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return items.map((item) => (isAbsolute(item) ? item : join(dir, item)));
}

/**
 * containerd's reading of a host URL: `https://` when no scheme is written, and the API root is
 * the URL's path plus `/v2` unless the path already ends in `/v2` or `override_path` is set (then
 * the path is the API root as written, for registries that serve the API under a prefix).
 * containerd takes only scheme, host and path: any `user:password@` is dropped, never sent.
 */
export function endpointLocation(raw: string, overridePath: boolean): { url: string; apiRoot: string } {
  let parsed: URL;
  try {
    parsed = new URL(raw.startsWith("http") ? raw : `https://${raw}`);
  } catch {
    throw new Error(`${redactUrl(raw)}: not a URL`);
  }
  const written = parsed.pathname.replace(/\/+$/, "");
  const path = written === "" ? "" : posix.normalize(written).replace(/\/+$/, "");
  const origin = `${parsed.protocol}//${parsed.host}`;
  const apiPath = overridePath || path.endsWith("/v2") ? path : `${path}/v2`;
  return { url: `${origin}${path}`, apiRoot: `${origin}${apiPath}` };
}

/** The upstream containerd assumes when hosts.toml names no `server`. */
function defaultServer(host: string): string | undefined {
  if (host === "_default") return undefined;
  if (host === "docker.io") return "https://registry-1.docker.io";
  return `${isLoopbackRegistry(host) ? "http" : "https"}://${host}`;
}

/** Parses one hosts.toml; `host` is the directory name (the registry it configures). */
export function parseHostsToml(text: string, host: string, dir: string): RegistryHostConfig {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    throw new InputError(
      `${join(dir, "hosts.toml")}: not valid TOML: ${(error as Error).message.split("\n")[0] ?? ""}`,
      { source: join(dir, "hosts.toml") },
      { cause: error },
    );
  }
  const parsed = hostsFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map((part) => redactUrl(String(part))).join(".") ?? "";
    throw new InputError(`${join(dir, "hosts.toml")}: ${field}: ${issue?.message ?? "invalid"}`, {
      source: join(dir, "hosts.toml"),
      field,
    });
  }
  const config = parsed.data;
  const locate = (url: string, overridePath: boolean | undefined): { url: string; apiRoot: string } => {
    try {
      return endpointLocation(url, overridePath ?? false);
    } catch (error) {
      throw new InputError(
        `${join(dir, "hosts.toml")}: ${(error as Error).message}`,
        { source: join(dir, "hosts.toml") },
        { cause: error },
      );
    }
  };
  const mirrors: RegistryEndpoint[] = Object.entries(config.host ?? {}).map(([url, entry]) => ({
    ...locate(url, entry.override_path),
    capabilities: entry.capabilities ?? ALL_CAPABILITIES,
    caFiles: list(entry.ca, dir),
    skipVerify: entry.skip_verify ?? false,
    mirror: true,
  }));
  const serverUrl = config.server ?? defaultServer(host);
  const server: RegistryEndpoint[] =
    serverUrl === undefined
      ? []
      : [
          {
            ...locate(serverUrl, config.override_path),
            capabilities: config.capabilities ?? ALL_CAPABILITIES,
            caFiles: list(config.ca, dir),
            skipVerify: config.skip_verify ?? false,
            mirror: false,
          },
        ];
  // A [host] entry naming the server itself configures it rather than adding a mirror.
  const serverSelf = mirrors.find((mirror) => server[0] !== undefined && mirror.url === server[0].url);
  const endpoints = serverSelf
    ? [...mirrors.filter((m) => m !== serverSelf), { ...serverSelf, mirror: false }]
    : [...mirrors, ...server];
  return { endpoints };
}

/** Reads every `<config_path>/<host>/hosts.toml`. A missing directory is an empty config. */
export async function loadRegistryHosts(configPath: string): Promise<RegistryHosts> {
  const byHost = new Map<string, RegistryHostConfig>();
  const names = await readdir(configPath).catch(() => [] as string[]);
  for (const name of names) {
    const dir = join(configPath, name);
    const text = await readFile(join(dir, "hosts.toml"), "utf8").catch(() => undefined);
    if (text === undefined) continue;
    byHost.set(name, parseHostsToml(text, name, dir));
  }
  return new RegistryHosts(byHost);
}
