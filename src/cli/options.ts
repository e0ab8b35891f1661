import { InvalidArgumentError, Option, type Command } from "commander";
import { parseDuration } from "./units.ts";

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

export function durationOption(flag: string, description: string, defaultValue: string): Option {
  return new Option(flag, description)
    .default(parseDurationFlag(defaultValue), defaultValue)
    .argParser(parseDurationFlag);
}

function parseDurationFlag(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
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

export function outputOption(choices: readonly string[] = ["text", "json"]): Option {
  return new Option("-o, --output <format>", "output format").choices(choices).default("text");
}
