// The thread side of ./worker-parser.ts: parses one ImageSet file and posts the documents or the error back.
import { parentPort, workerData } from "node:worker_threads";
import { ImageSetError } from "./imageset.ts";
import { parseImageSet } from "./parse.ts";
import type { ParseReply, ParseRequest } from "./worker-parser.ts";

const { text, file, limits } = workerData as ParseRequest;
let reply: ParseReply;
try {
  reply = { documents: parseImageSet(text, file, limits) };
} catch (error) {
  if (!(error instanceof ImageSetError)) throw error;
  reply = {
    invalid: {
      detail: error.detail,
      ...(error.path === undefined ? {} : { path: error.path }),
      ...(error.line === undefined ? {} : { line: error.line }),
    },
  };
}
parentPort?.postMessage(reply);
