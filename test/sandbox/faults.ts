import { createServer as createHttpServer, request as httpRequest, type IncomingMessage } from "node:http";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { Transform } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { RegistryInstance } from "./registry.ts";

/** A loopback server that injects faults a real registry will not produce on demand. */
export interface FaultServer {
  readonly host: string;
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Forward the request, but deliver the answer's body at this rate: a slow link. */
export interface Throttle {
  throttleBytesPerSecond: number;
}

export type FaultBehaviour = (request: {
  method: string;
  path: string;
  count: number;
}) =>
  "pass" | "hang" | "reset" | Throttle | { status: number; headers?: Record<string, string>; body?: string };

/** Passes bytes on in tenth-of-a-second slices of `bytesPerSecond`. */
function pace(bytesPerSecond: number): Transform {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      void (async () => {
        for (let at = 0; at < chunk.length; at += slice) {
          this.push(chunk.subarray(at, at + slice));
          await sleep(100);
        }
        done();
      })();
    },
  });
}

function listen(server: Server, sockets: Set<Socket>): Promise<string> {
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(`127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`);
    });
  });
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => {
        resolve();
      });
    });
}

/** Accepts TCP connections and never answers: a registry that hangs. */
export async function startHangingServer(): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createTcpServer((socket) => {
    connections += 1;
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
  });
  const host = await listen(server, sockets);
  return {
    host,
    url: `http://${host}`,
    get connections() {
      return connections;
    },
    close: closer(server, sockets),
  };
}

/** An HTTP proxy in front of a plain-HTTP registry that hangs, resets or answers as told. */
export async function startFaultProxy(
  target: RegistryInstance,
  behaviour: FaultBehaviour,
): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let count = 0;
  const upstream = new URL(target.url);
  const server = createHttpServer((req: IncomingMessage, res) => {
    count += 1;
    const verdict = behaviour({ method: req.method ?? "GET", path: req.url ?? "/", count });
    if (verdict === "hang") return;
    if (verdict === "reset") {
      req.socket.destroy();
      return;
    }
    if (verdict !== "pass" && !("throttleBytesPerSecond" in verdict)) {
      res.writeHead(verdict.status, verdict.headers ?? {});
      res.end(verdict.body ?? "");
      return;
    }
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (verdict === "pass") answer.pipe(res);
        else answer.pipe(pace(verdict.throttleBytesPerSecond)).pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  server.on("connection", () => {
    connections += 1;
  });
  const host = await listen(server, sockets);
  return {
    host,
    url: `http://${host}`,
    get connections() {
      return connections;
    },
    close: closer(server, sockets),
  };
}

/** A proxy that serves the registry's blobs at `bytesPerSecond` and everything else at once: a slow pull. */
export function startThrottledBlobProxy(
  target: RegistryInstance,
  bytesPerSecond: number,
): Promise<FaultServer> {
  return startFaultProxy(target, ({ path }) =>
    path.includes("/blobs/") ? { throttleBytesPerSecond: bytesPerSecond } : "pass",
  );
}
