import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { onTestFailed } from "vitest";
import type { AgentStatus } from "../../src/http/index.ts";

/** Lines of an agent's output a failed test prints, so a failure in CI shows what the agent did. */
const OUTPUT_ON_FAILURE = 60;

const BIN = fileURLToPath(new URL("../../bin/prepull.js", import.meta.url));

export interface AgentProcess {
  readonly url: string;
  /** The probe port's URL, as the agent reported it at start; undefined when it runs none. */
  readonly probeUrl: string | undefined;
  readonly child: ChildProcess;
  readonly logs: Array<Record<string, unknown>>;
  readonly output: string[];
  status(): Promise<AgentStatus>;
  get(path: string): Promise<{ status: number; body: string }>;
  /** Polls /v1/status until `predicate` holds; fails with the last status when it does not in time. */
  waitFor(
    predicate: (status: AgentStatus) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<AgentStatus>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the real `prepull agent` listening on a free loopback port: from the sources, or from
 * another entry point such as the bundle the container image runs.
 */
export async function startAgentProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  bin: string = BIN,
): Promise<AgentProcess> {
  const child = spawn(
    process.execPath,
    [bin, "agent", "--listen", "127.0.0.1:0", "--log-level", "debug", ...args],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const logs: Array<Record<string, unknown>> = [];
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      resolve(code);
    }),
  );
  let probeUrl: string | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`agent did not start:\n${output.join("\n")}`));
    }, 20_000);
    createInterface({ input: child.stderr }).on("line", (line) => output.push(line));
    createInterface({ input: child.stdout }).on("line", (line) => {
      output.push(line);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "agent started" && typeof entry.url === "string") {
          if (typeof entry.probeUrl === "string") probeUrl = entry.probeUrl;
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${String(code)} before starting:\n${output.join("\n")}`));
    });
  });

  try {
    onTestFailed(() => {
      process.stderr.write(
        `prepull agent ${args.join(" ")}: its last ${String(OUTPUT_ON_FAILURE)} lines of output\n` +
          `${output.slice(-OUTPUT_ON_FAILURE).join("\n")}\n`,
      );
    });
  } catch {
    // Started outside a test (a beforeAll, a benchmark): there is no test to report with.
  }

  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { status: response.status, body: await response.text() };
  };
  const status = async (): Promise<AgentStatus> => JSON.parse((await get("/v1/status")).body) as AgentStatus;

  return {
    url,
    probeUrl,
    child,
    logs,
    output,
    get,
    status,
    async waitFor(predicate, what, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: AgentStatus | undefined;
      for (;;) {
        try {
          last = await status();
          if (predicate(last)) return last;
        } catch {
          // the server may be briefly unavailable; keep polling until the deadline
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what}; last status:\n${JSON.stringify(last, null, 2)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
