import { formatHostPort, parseHostPort, type HostPort } from "../reference/index.ts";

/** `host:port`, `[v6]:port`: where one agent listens. */
export type AgentAddress = HostPort;

export const formatAddress = formatHostPort;

/** Parses `HOST:PORT` (IPv6 in brackets); throws a message naming the bad value. */
export function parseAgentAddress(text: string): AgentAddress {
  const address = parseHostPort(text.trim());
  if (address === undefined || address.host === "" || address.port < 1) {
    throw new Error(
      `invalid agent address "${text}": expected HOST:PORT, e.g. 10.0.0.7:8080 or [fd00::7]:8080`,
    );
  }
  return address;
}
