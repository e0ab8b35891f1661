import type { Readable, Writable } from "node:stream";
import { InputError } from "../failure/index.ts";

/** Exit codes scripts can rely on. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
} as const;

/** Where a command reads and writes; tests pass their own streams. */
export interface CommandIO {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly stdin: Readable;
  readonly env: NodeJS.ProcessEnv;
}

/** Shared by every command of one CLI invocation: actions set `exitCode` instead of exiting. */
export interface CliContext {
  readonly io: CommandIO;
  exitCode: number;
}

/** Flags or arguments that do not go together: an input error about the command line itself. */
export class UsageError extends InputError {
  constructor(message: string) {
    super(message, { source: "command line" });
    this.name = "UsageError";
  }
}
