import { createServer, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Counter, Gauge } from "prom-client";
import { shareConnections, type ConnectionLimits } from "./admission.ts";
import type { AgentMetrics } from "./metrics.ts";
import { createRoutes, type Reply } from "./routes.ts";
import type { AgentView } from "./status.ts";

export interface StatusServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface ServerLimits extends ConnectionLimits {
  /** Requests one connection may have waiting for their answers; more closes it. */
  readonly pipelined: number;
  /** Bytes of answers handed out and not yet taken by the kernel, all connections together. */
  readonly bufferedBytes: number;
}

/**
 * Sized for kubelet's probes, a Prometheus or two and `prepull wait` (one connection per agent),
 * with room to spare; a client past them is either broken or hostile.
 */
export const DEFAULT_LIMITS: ServerLimits = {
  total: 256,
  perClient: 16,
  pipelined: 8,
  bufferedBytes: 32 * 1024 * 1024,
};

/** What a response is counted as besides its body: the status line and headers. */
const HEAD_BYTES = 512;
const SMALL_BYTES = HEAD_BYTES + 1024;

/**
 * The agent's read-only HTTP face: GET/HEAD only, nothing read from bodies, and bounded against
 * clients that hold connections, send slowly, pipeline or never read:
 * - connections are shared fairly between client addresses (see `shareConnections`);
 * - headers must arrive within 5 s and a request within 10 s, checked every second;
 * - a connection with more than `pipelined` requests waiting for answers is closed;
 * - answers not yet taken by the kernel stay under `bufferedBytes` in total; past it, 503
 *   (except small ones: probes always get their answer);
 * - a connection that makes no progress for 30 s (a client that stopped reading) is closed.
 */
export async function startStatusServer(options: {
  host: string;
  port: number;
  view: AgentView;
  metrics: AgentMetrics;
  limits?: Partial<ServerLimits>;
}): Promise<StatusServer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const route = createRoutes(options.view, options.metrics);
  const refused = new Counter({
    name: "prepull_http_refused_total",
    help: "Connections and requests the status server refused, by reason.",
    labelNames: ["reason"],
    registers: [options.metrics.registry],
  });
  const waiting = new WeakMap<Socket, number>();
  let buffered = 0;
  new Gauge({
    name: "prepull_http_buffered_bytes",
    help: "Bytes of answers the status server has handed out and the kernel has not taken yet.",
    registers: [options.metrics.registry],
    collect() {
      this.set(buffered);
    },
  });

  const send = (response: ServerResponse, method: string, reply: Reply): void => {
    // The client left while the answer was made: nothing to send, and no close left to wait for.
    if (response.destroyed) return;
    const body = method === "HEAD" ? undefined : reply.body;
    const bytes = HEAD_BYTES + (body === undefined ? 0 : Buffer.byteLength(body));
    // Small answers (probes, errors) always go out: connections times `pipelined` bounds them.
    // Of the rest, one is always let through, however large, so a big status can be served.
    if (bytes > SMALL_BYTES && buffered > 0 && buffered + bytes > limits.bufferedBytes) {
      refused.inc({ reason: "buffered_bytes" });
      response.writeHead(503, { "content-type": "text/plain", "retry-after": "1", connection: "close" });
      response.end("busy: too many unread answers\n");
      return;
    }
    buffered += bytes;
    response.once("close", () => {
      buffered -= bytes;
    });
    response.writeHead(reply.status, {
      "content-type": reply.type,
      "cache-control": "no-store",
      ...reply.headers,
    });
    response.end(body);
  };

  const server = createServer(
    {
      maxHeaderSize: 16 * 1024,
      headersTimeout: 5_000,
      requestTimeout: 10_000,
      keepAliveTimeout: 5_000,
      // Node checks the two timeouts above only this often (30 s by default), which let slow
      // clients hold connections six times longer than the headers timeout says.
      connectionsCheckingInterval: 1_000,
    },
    (request, response) => {
      const { socket } = request;
      const count = (waiting.get(socket) ?? 0) + 1;
      waiting.set(socket, count);
      response.once("close", () => {
        waiting.set(socket, (waiting.get(socket) ?? 1) - 1);
      });
      if (count > limits.pipelined) {
        refused.inc({ reason: "pipelined" });
        socket.destroy();
        return;
      }
      // Bodies are never read; discard whatever a client sends along.
      request.resume();
      const method = request.method ?? "GET";
      route(method, request.url ?? "/")
        .then((reply) => {
          send(response, method, reply);
        })
        .catch((error: unknown) => {
          send(response, method, {
            status: 500,
            type: "text/plain",
            body: `internal error: ${error instanceof Error ? error.message : String(error)}\n`,
          });
        });
    },
  );
  server.setTimeout(30_000);
  const connections = shareConnections(server, limits, (reason) => {
    refused.inc({ reason });
  });
  new Gauge({
    name: "prepull_http_connections",
    help: "Connections open to the status server.",
    registers: [options.metrics.registry],
    collect() {
      this.set(connections.open());
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":")
    ? `[${options.host}]`
    : options.host === "0.0.0.0"
      ? "127.0.0.1"
      : options.host;
  return {
    url: `http://${host}:${port}`,
    close() {
      return new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
    },
  };
}
