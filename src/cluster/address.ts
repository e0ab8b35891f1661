import { isIP } from "node:net";

/** `host:port`, `[v6]:port`: where one agent listens. */
export interface AgentAddress {
  readonly host: string;
  readonly port: number;
}

export function formatAddress({ host, port }: AgentAddress): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${String(port)}`;
}

/** Parses `HOST:PORT` (IPv6 in brackets); throws a message naming the bad value. */
export function parseAgentAddress(text: string): AgentAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(
      `invalid agent address "${text}": expected HOST:PORT, e.g. 10.0.0.7:8080 or [fd00::7]:8080`,
    );
  }
  return { host, port };
}
