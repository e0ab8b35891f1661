import { InvalidArgumentError, Option, type Command } from "commander";

export interface DiskFlags {
  /** Percent of the image filesystem, 0 < x ≤ 100. */
  readonly diskThreshold: number;
  readonly imageFsPath?: string;
}

export function percentOption(flag: string, description: string, defaultValue: number): Option {
  return new Option(flag, description).default(defaultValue).argParser((value: string) => {
    const parsed = Number(value.replace(/%$/, ""));
    if (!Number.isFinite(parsed) || parsed <= 0 || parsed > 100) {
      throw new InvalidArgumentError("expected a percentage between 0 and 100");
    }
    return parsed;
  });
}

/** The disk guard's flags, shared by `agent` and `warm` so both keep the same limit. */
export function addDiskGuardOptions(command: Command): Command {
  return command
    .addOption(
      percentOption(
        "--disk-threshold <percent>",
        "block pulls that would fill the image filesystem beyond this, and stop those that do",
        80,
      ).env("PREPULL_DISK_THRESHOLD"),
    )
    .addOption(
      new Option(
        "--image-fs-path <path>",
        "filesystem to statfs for the disk guard (default: the runtime's image filesystem)",
      ).env("PREPULL_IMAGE_FS_PATH"),
    );
}
