import { existsSync } from "node:fs";
import { InputError } from "../failure/index.ts";

/** Sockets crictl tries when no endpoint is configured, in its order. */
const DEFAULT_RUNTIME_ENDPOINTS = [
  "unix:///run/containerd/containerd.sock",
  "unix:///var/run/crio/crio.sock",
  "unix:///run/cri-dockerd.sock",
] as const;

class EndpointError extends InputError {
  constructor(message: string) {
    super(message, { source: "--runtime-endpoint" });
    this.name = "EndpointError";
  }
}

/** Accepts `unix:///path` or an absolute socket path, as crictl does; returns the unix URI. */
export function normalizeEndpoint(endpoint: string): string {
  const trimmed = endpoint.trim();
  if (trimmed.startsWith("unix://")) {
    const path = trimmed.slice("unix://".length);
    if (!path.startsWith("/")) {
      throw new EndpointError(
        `runtime endpoint "${endpoint}": the socket path must be absolute (unix:///path)`,
      );
    }
    return trimmed;
  }
  if (trimmed.startsWith("/")) return `unix://${trimmed}`;
  throw new EndpointError(
    `runtime endpoint "${endpoint}" is not supported: write it as unix:///path/to/socket`,
  );
}

function socketPathOf(endpoint: string): string {
  return normalizeEndpoint(endpoint).slice("unix://".length);
}

/**
 * `--runtime-endpoint`, then `CONTAINER_RUNTIME_ENDPOINT`, then the first default socket that
 * exists. When none exists the containerd default is returned, so the error names a real path.
 */
export function resolveRuntimeEndpoint(options: {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  socketExists?: (path: string) => boolean;
}): string {
  const fromFlag = options.flag?.trim();
  if (fromFlag) return normalizeEndpoint(fromFlag);
  const fromEnv = options.env?.CONTAINER_RUNTIME_ENDPOINT?.trim();
  if (fromEnv) return normalizeEndpoint(fromEnv);
  const exists = options.socketExists ?? existsSync;
  const found = DEFAULT_RUNTIME_ENDPOINTS.find((endpoint) => exists(socketPathOf(endpoint)));
  return found ?? DEFAULT_RUNTIME_ENDPOINTS[0];
}
