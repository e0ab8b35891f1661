import type { Writable } from "node:stream";
import type { BundleProgress } from "../bundle/index.ts";
import { formatBytes } from "./units.ts";

/** How often a terminal's line is redrawn, and how often a log (a Job, a pipe) gets a line. */
const REDRAW_MS = 200;
const LOG_LINE_MS = 5_000;

export function progressText(progress: BundleProgress): string {
  const bytes = `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytes)}`;
  switch (progress.phase) {
    case "manifests":
      return `bundle: manifests of ${progress.entriesDone}/${progress.entries} entries`;
    case "blobs":
      return `bundle: ${progress.blobsDone}/${progress.blobs} blobs, ${bytes}`;
    case "archive":
      return `bundle: writing the archive, ${bytes}`;
  }
}

export interface ProgressPrinter {
  update(progress: BundleProgress): void;
  /** Clears a terminal's line; a log keeps its lines. */
  stop(): void;
}

/**
 * Progress on stderr: on a terminal one line redrawn in place; elsewhere a line every few seconds
 * when something moved, so a Job's log shows how far it got without a line per chunk.
 */
export function progressPrinter(stream: Writable & { isTTY?: boolean }): ProgressPrinter {
  const tty = stream.isTTY === true;
  let latest: BundleProgress | undefined;
  let shown = "";
  const draw = (): void => {
    if (latest === undefined) return;
    const line = progressText(latest);
    if (line === shown) return;
    shown = line;
    stream.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  const timer = setInterval(draw, tty ? REDRAW_MS : LOG_LINE_MS);
  timer.unref();
  return {
    update(progress) {
      latest = progress;
    },
    stop() {
      clearInterval(timer);
      if (tty && shown !== "") stream.write("\r\x1b[2K");
    },
  };
}
