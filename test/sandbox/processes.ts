import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, closeSync, constants, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

const children = new Set<ChildProcess>();

// Children must never outlive the test process, whatever failed.
process.on("exit", () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
});

export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  logTail(lines?: number): string;
  /** Sends `signal` and waits for the exit; SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

/** Starts a long-running program with its output in `logFile`, tracked for teardown by PID. */
export function startDaemon(
  command: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): Daemon {
  const fd = openSync(logFile, "a");
  // A process group of its own: Ctrl-C on a terminal reaches the harness, which stops its daemons in order.
  const child = spawn(command, args, { stdio: ["ignore", fd, fd], env, detached: true });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  children.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      children.delete(child);
      resolve(code);
    });
    child.once("error", () => {
      children.delete(child);
      resolve(null);
    });
  });
  const pid = child.pid;
  const logTail = (lines = 20): string => {
    try {
      return readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  };
  return {
    child,
    pid,
    logFile,
    exited,
    logTail,
    async stop(signal = "SIGTERM", timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, signal);
      const timer = setTimeout(() => {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `ready` until it resolves true; fails with the daemon's log when it exits or times out. */
export async function waitUntilReady(
  name: string,
  daemon: Daemon,
  ready: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void daemon.exited.then((code) => {
    exitCode = code;
  });
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(`${name} exited (code ${String(exitCode)}) before it was ready:\n${daemon.logTail()}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      await daemon.stop("SIGKILL");
      throw new Error(`${name} was not ready within ${timeoutMs} ms:\n${daemon.logTail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

export function requireCommand(command: string, debianPackage: string): void {
  const found = (process.env.PATH ?? "").split(":").some((dir) => {
    try {
      accessSync(`${dir}/${command}`, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) {
    throw new Error(
      `${command} is not installed: the sandbox needs Debian's ${debianPackage} (run scripts/install-sandbox-deps.sh as root)`,
    );
  }
}
