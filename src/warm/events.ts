import type { EntryRecord } from "./entries.ts";
import type { EntryResult } from "./execute.ts";

/** The structured logger the warm core writes to (pino in the agent). */
export interface WarmLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
  debug(object: object, message?: string): void;
}

export interface WarmLoopEvents {
  onPull?(result: EntryResult): void;
  onPass?(pass: { readonly seconds: number; readonly ok: boolean }): void;
}

/** One line per entry whose work ended: `pulled`, or why not and when it is tried again. */
export function logFinished(
  logger: WarmLogger | undefined,
  entry: EntryRecord,
  seconds: number,
  now: number,
): void {
  const { status } = entry;
  if (status.state === "present") {
    logger?.info({ image: status.image, digest: status.digest, seconds }, "pulled");
    return;
  }
  logger?.warn(
    {
      image: status.image,
      state: status.state,
      kind: status.errorKind,
      attempts: status.attempts,
      retryInMs: entry.retryAt - now,
      error: status.message,
    },
    `entry ${status.state}`,
  );
}
