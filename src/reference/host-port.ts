import { isIP } from "node:net";

/** `host:port`: a registry, an agent, an address to listen on. */
export interface HostPort {
  /** Without brackets for IPv6; empty when the text gave only `:port`. */
  readonly host: string;
  readonly port: number;
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]*)):(\d{1,5})$/;

/**
 * Reads `HOST:PORT` or `[IPv6]:PORT` (port 0–65535; the host may be empty, as in `:8080`).
 * Returns undefined when the text is not of that shape; callers say what they expected.
 */
export function parseHostPort(text: string): HostPort | undefined {
  const match = HOST_PORT.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  const v6 = match[1];
  if (port > 65_535 || (v6 !== undefined && isIP(v6) !== 6)) return undefined;
  return { host: v6 ?? match[2] ?? "", port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${String(port)}`;
}
