import type { Readable, Writable } from "node:stream";

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

/** Wrong flags, arguments or configuration: exit 2 with a one-line message. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
