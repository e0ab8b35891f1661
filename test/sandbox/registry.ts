import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Agent, request, type Dispatcher } from "undici";
import { stringify } from "yaml";
import { freePort, requireCommand, startDaemon, waitUntilReady } from "./processes.ts";
import { generateCertificates } from "./tls.ts";

const run = promisify(execFile);

export interface RegistryInstance {
  readonly host: string;
  readonly url: string;
  readonly tls: boolean;
  readonly caCertPath: string | undefined;
  readonly caCertPem: string | undefined;
  readonly credentials: { username: string; password: string } | undefined;
  readonly pid: number;
  readonly dir: string;
  /** An undici dispatcher that trusts this registry's CA. */
  readonly dispatcher: Dispatcher;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  htpasswd?: { username: string; password: string };
  tls?: boolean;
  extraConfig?: Record<string, unknown>;
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = merged[key];
    merged[key] =
      typeof current === "object" &&
      current !== null &&
      typeof value === "object" &&
      value !== null &&
      !Array.isArray(value)
        ? deepMerge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return merged;
}

/** A real `docker-registry` (distribution 2.x) on a free loopback port with its own storage. */
export async function startRegistry(options: RegistryOptions = {}): Promise<RegistryInstance> {
  requireCommand("docker-registry", "docker-registry");
  const dir = await mkdtemp(join(tmpdir(), "prepull-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const certificates = options.tls ? await generateCertificates(dir) : undefined;
  let config: Record<string, unknown> = {
    version: 0.1,
    log: { level: "warn", accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, "data") }, delete: { enabled: true } },
    http: {
      addr: host,
      ...(certificates ? { tls: { certificate: certificates.certPath, key: certificates.keyPath } } : {}),
    },
  };
  if (options.htpasswd) {
    requireCommand("htpasswd", "apache2-utils");
    const { stdout } = await run("htpasswd", ["-Bbn", options.htpasswd.username, options.htpasswd.password]);
    await writeFile(join(dir, "htpasswd"), stdout);
    config.auth = { htpasswd: { realm: "prepull-test", path: join(dir, "htpasswd") } };
  }
  if (options.extraConfig) config = deepMerge(config, options.extraConfig);
  const configFile = join(dir, "config.yml");
  await writeFile(configFile, stringify(config));

  const url = `${certificates ? "https" : "http"}://${host}`;
  const dispatcher = new Agent(certificates ? { connect: { ca: certificates.caCertPem } } : {});
  const daemon = startDaemon("docker-registry", ["serve", configFile], join(dir, "registry.log"));
  await waitUntilReady("docker-registry", daemon, async () => {
    const response = await request(`${url}/v2/`, { dispatcher, headersTimeout: 1_000 });
    await response.body.dump();
    return response.statusCode === 200 || response.statusCode === 401;
  });

  return {
    host,
    url,
    tls: certificates !== undefined,
    caCertPath: certificates?.caCertPath,
    caCertPem: certificates?.caCertPem,
    credentials: options.htpasswd,
    pid: daemon.pid,
    dir,
    dispatcher,
    async stop() {
      await daemon.stop("SIGTERM");
      await dispatcher.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
