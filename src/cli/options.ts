import { InvalidArgumentError, Option, type Command } from "commander";
import { DurationError, parseDuration } from "./units.ts";

/** One deadline for each pull, the same for `warm` and `agent`: large images exist. */
export const PULL_TIMEOUT = "15m";

export interface RuntimeFlags {
  readonly runtimeEndpoint?: string;
}

/** `--runtime-endpoint`, following crictl (the flag, then CONTAINER_RUNTIME_ENDPOINT, then default sockets). */
export function addRuntimeOptions(command: Command): Command {
  return command.addOption(
    new Option(
      "-r, --runtime-endpoint <endpoint>",
      "CRI socket, e.g. unix:///run/containerd/containerd.sock (default: $CONTAINER_RUNTIME_ENDPOINT, then the first of containerd, CRI-O, cri-dockerd sockets that exists)",
    ),
  );
}

/**
 * A duration flag in milliseconds. Zero is refused unless `allowZero` (an interval or deadline of
 * zero is a busy loop or an instant failure, never what was meant).
 */
export function durationOption(
  flag: string,
  description: string,
  defaultValue: string | undefined,
  { allowZero = false }: { allowZero?: boolean } = {},
): Option {
  const parse = (value: string): number => {
    try {
      const ms = parseDuration(value);
      if (!allowZero && ms < 1) throw new InvalidArgumentError("must be at least 1ms");
      return ms;
    } catch (error) {
      if (error instanceof DurationError) throw new InvalidArgumentError(error.reason);
      throw error;
    }
  };
  const option = new Option(flag, description).argParser(parse);
  return defaultValue === undefined ? option : option.default(parse(defaultValue), defaultValue);
}

export function positiveIntegerOption(flag: string, description: string, defaultValue: number): Option {
  return new Option(flag, description).default(defaultValue).argParser((value: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) {
      throw new InvalidArgumentError("expected a whole number of at least 1");
    }
    return parsed;
  });
}

/**
 * A flag given once per value (`--config a --config b`), or with commas when `commas` is set.
 * Never variadic: a variadic option would swallow the positional arguments after it.
 */
export function repeatableOption(
  flag: string,
  description: string,
  { commas = false }: { commas?: boolean } = {},
): Option {
  return new Option(
    flag,
    `${description} (repeat the flag${commas ? " or separate with commas" : ""})`,
  ).argParser((value: string, previous: string[] | undefined) => [
    ...(previous ?? []),
    ...(commas ? value.split(",").map((part) => part.trim()) : [value]).filter((part) => part !== ""),
  ]);
}

/** `-o text|json`, and `wide` where tables shorten long values to fit 120 columns. */
export function outputOption(choices: readonly string[] = ["text", "json"]): Option {
  return new Option("-o, --output <format>", "output format").choices(choices).default("text");
}

/** The value of a `--flag [bool]` option: `--flag`, `--flag=true` or `--flag=false`. */
export function booleanValue(value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new InvalidArgumentError("expected true or false");
}
