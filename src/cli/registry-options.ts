import { existsSync } from "node:fs";
import { Option, type Command } from "commander";
import type { CredentialKeyring, RegistryClient } from "../registry/index.ts";
import { InputError, redactUserinfo } from "../failure/index.ts";
import type { ImageReference } from "../reference/index.ts";
import { repeatableOption } from "./options.ts";

export interface RegistryFlags {
  readonly dockerConfig?: string[];
  readonly registryHostsDir?: string;
  readonly insecureRegistry?: string[];
  readonly mirror?: string[];
}

/** Where containerd keeps per-registry hosts.toml files on a typical node. */
const DEFAULT_HOSTS_DIR = "/etc/containerd/certs.d";

export function addRegistryOptions(command: Command): Command {
  return command
    .addOption(
      repeatableOption(
        "--docker-config <path>",
        "registry credentials: a docker config.json, .dockerconfigjson or .dockercfg file, or a mounted Secret directory",
      ).env("PREPULL_DOCKER_CONFIG"),
    )
    .addOption(
      new Option(
        "--registry-hosts-dir <dir>",
        `containerd registry config_path (certs.d with hosts.toml: mirrors, CAs) (default: ${DEFAULT_HOSTS_DIR} when it exists)`,
      ).env("PREPULL_REGISTRY_HOSTS_DIR"),
    )
    .addOption(
      repeatableOption(
        "--insecure-registry <host>",
        "allow plain HTTP or unverified TLS for this registry host (loopback registries always are)",
        { commas: true },
      ).env("PREPULL_INSECURE_REGISTRY"),
    )
    .addOption(
      repeatableOption(
        "--mirror <registry=url>",
        "try this mirror before the registry, e.g. docker.io=https://mirror.local:5000",
        { commas: true },
      ).env("PREPULL_MIRROR"),
    );
}

function parseMirrors(values: readonly string[] | undefined): Record<string, string[]> {
  const mirrors: Record<string, string[]> = {};
  for (const value of values ?? []) {
    const separator = value.indexOf("=");
    const registry = value.slice(0, separator).trim();
    const url = value.slice(separator + 1).trim();
    if (separator <= 0 || !/^https?:\/\/[^/]/.test(url)) {
      // Never echo a password written into the URL.
      const shown =
        separator < 0
          ? redactUserinfo(value)
          : `${value.slice(0, separator)}=${redactUserinfo(value.slice(separator + 1))}`;
      throw new InputError(
        `--mirror "${shown}": expected REGISTRY=URL, e.g. docker.io=https://mirror.local:5000`,
        { source: "--mirror" },
      );
    }
    (mirrors[registry] ??= []).push(url);
  }
  return mirrors;
}

export interface RegistryAccess {
  readonly client: RegistryClient;
  readonly keyring: CredentialKeyring;
}

export async function openRegistryAccess(flags: RegistryFlags): Promise<RegistryAccess> {
  const { CredentialKeyring, createRegistryClient, loadKeyring, loadRegistryHosts } =
    await import("../registry/index.ts");
  const keyring = flags.dockerConfig?.length
    ? await loadKeyring(flags.dockerConfig)
    : CredentialKeyring.empty();
  const hostsDir = flags.registryHostsDir ?? (existsSync(DEFAULT_HOSTS_DIR) ? DEFAULT_HOSTS_DIR : undefined);
  const hosts = hostsDir === undefined ? undefined : await loadRegistryHosts(hostsDir);
  const client = createRegistryClient({
    keyring,
    mirrors: parseMirrors(flags.mirror),
    insecure: flags.insecureRegistry ?? [],
    ...(hosts ? { hosts } : {}),
  });
  return { client, keyring };
}

/** Where a reference's tag points now, as `client` resolves it: the digest alone. */
export function digestResolver(client: RegistryClient): (reference: ImageReference) => Promise<string> {
  return async (reference) => (await client.resolve(reference)).digest;
}
