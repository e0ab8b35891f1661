import { InvalidArgumentError, Option } from "commander";
import { formatHostPort, parseHostPort, type HostPort } from "../reference/index.ts";
import { UsageError } from "./context.ts";

/** The probe port's port when `--probe-listen` is not given. */
export const PROBE_PORT = 8081;

export function listenAddress(value: string): HostPort {
  const address = parseHostPort(value);
  if (address === undefined) {
    throw new InvalidArgumentError("expected HOST:PORT, e.g. 0.0.0.0:8080, :8080 or [::]:8080");
  }
  return { host: address.host === "" ? "0.0.0.0" : address.host, port: address.port };
}

/**
 * `--probe-listen`'s value: an address, or `off` (not null, which commander would turn into an
 * empty string).
 */
export function probeListenAddress(value: string): HostPort | "off" {
  if (value === "off") return "off";
  try {
    return listenAddress(value);
  } catch {
    throw new InvalidArgumentError("expected HOST:PORT, e.g. 0.0.0.0:8081, :8081 or [::]:8081, or off");
  }
}

export function listenOption(): Option {
  return new Option("--listen <host:port>", "address of the status server")
    .default(listenAddress("0.0.0.0:8080"), "0.0.0.0:8080")
    .argParser(listenAddress)
    .env("PREPULL_LISTEN");
}

export function probeListenOption(): Option {
  return new Option(
    "--probe-listen <host:port>",
    "address of the probe port, which serves only /healthz and /readyz, for kubelet's probes, and " +
      "answers them whatever else is connected; off for none (default: the --listen host, port " +
      `${String(PROBE_PORT)}, or any free port when --listen's port is 0)`,
  )
    .argParser(probeListenAddress)
    .env("PREPULL_PROBE_LISTEN");
}

const WILDCARDS = new Set(["0.0.0.0", "::"]);

/**
 * Where the probe port listens (undefined: nowhere): where `--probe-listen` says, or by default
 * on `--listen`'s host at `PROBE_PORT`, or at any free port when `--listen` asked for one. An
 * address that would take the status server's own port is a usage error.
 */
export function probeAddress(listen: HostPort, asked: HostPort | "off" | undefined): HostPort | undefined {
  if (asked === "off") return undefined;
  const probe = asked ?? { host: listen.host, port: listen.port === 0 ? 0 : PROBE_PORT };
  const overlapping = probe.host === listen.host || WILDCARDS.has(probe.host) || WILDCARDS.has(listen.host);
  if (probe.port !== 0 && probe.port === listen.port && overlapping) {
    throw new UsageError(
      `--probe-listen ${formatHostPort(probe)} takes the port of --listen ${formatHostPort(listen)}: ` +
        "give the probe port another one, or --probe-listen off",
    );
  }
  return probe;
}
