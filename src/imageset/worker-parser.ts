import { Worker } from "node:worker_threads";
import { ImageSetError, type ImageSetDocument, type ImageSetErrorOptions } from "./imageset.ts";
import { DEFAULT_LIMITS, type ImageSetLimits } from "./limits.ts";
import { parseImageSet } from "./parse.ts";
import type { ImageSetParser } from "./reader.ts";

export interface ParseRequest {
  readonly text: string;
  readonly file: string;
  readonly limits: Pick<ImageSetLimits, "flowDepth" | "indent">;
}

export type ParseReply =
  | { readonly documents: ImageSetDocument[] }
  | { readonly invalid: { readonly detail: string } & Pick<ImageSetErrorOptions, "path" | "line"> };

export interface WorkerParserOptions {
  readonly limits?: ImageSetLimits;
  /**
   * Old-generation heap of the worker. Parsing YAML takes tens of times the text's size: 96 MiB
   * holds any ConfigMap-sized file (1 MiB, even of 60,000 short entries) and keeps the agent
   * inside its memory limit; a bigger file that needs more is refused, not an OOM kill.
   */
  readonly heapMb?: number;
  /** How long one file may take to parse. */
  readonly timeoutMs?: number;
  /**
   * Smaller files parse on the calling thread: a few milliseconds, where starting a worker and
   * loading the parser into it costs hundreds.
   */
  readonly inlineBytes?: number;
}

/**
 * Parses each big file in a short-lived worker thread. The YAML parser needs about a second of
 * CPU for a 4 MiB file; on the main thread that second would stall the health probes. The
 * worker's heap is capped, and one that runs out of memory or time is reported as a bad file.
 */
export function workerParser(options: WorkerParserOptions = {}): ImageSetParser {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const heapMb = options.heapMb ?? 96;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const inlineBytes = options.inlineBytes ?? 16 * 1024;
  return (text, file) =>
    Buffer.byteLength(text) < inlineBytes
      ? parseImageSet(text, file, limits)
      : parseInWorker(text, file, limits, heapMb, timeoutMs);
}

function parseInWorker(
  text: string,
  file: string,
  limits: ImageSetLimits,
  heapMb: number,
  timeoutMs: number,
): Promise<readonly ImageSetDocument[]> {
  return new Promise<readonly ImageSetDocument[]>((resolve, reject) => {
    const request: ParseRequest = { text, file, limits };
    const worker = new Worker(new URL("./worker-parser-thread.ts", import.meta.url), {
      workerData: request,
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
    });
    let settled = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      action();
      void worker.terminate();
    };
    const timer = setTimeout(() => {
      settle(() => {
        reject(new ImageSetError(file, `took longer than ${timeoutMs / 1000}s to parse`));
      });
    }, timeoutMs);
    worker.once("message", (reply: ParseReply) => {
      settle(() => {
        if ("documents" in reply) resolve(reply.documents);
        else reject(new ImageSetError(file, reply.invalid.detail, reply.invalid));
      });
    });
    worker.once("error", (error: Error & { code?: string }) => {
      settle(() => {
        reject(
          error.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? new ImageSetError(file, `needs more than ${heapMb} MiB of memory to parse`)
            : error,
        );
      });
    });
    worker.once("exit", (code) => {
      settle(() => {
        reject(new Error(`${file}: the parser's worker thread exited with code ${code} and no answer`));
      });
    });
  });
}
