import { execFile } from "node:child_process";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/index.ts";

const BIN = fileURLToPath(new URL("../../bin/prepull.js", import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `prepull` binary in a child process, as a user or script would. */
export function runPrepull(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs the CLI's entry point in this process with its own streams: the same contract, no start-up cost. */
export async function runMain(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const [stdout, stderr] = [new PassThrough(), new PassThrough()];
  const out: string[] = [];
  const err: string[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on("data", (chunk: Buffer) => err.push(chunk.toString()));
  const code = await main([...args], { stdout, stderr, stdin: new PassThrough(), env });
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout: out.join(""), stderr: err.join("") };
}
