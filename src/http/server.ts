import { createServer, type ServerResponse } from "node:http";
import { Counter, Gauge } from "prom-client";
import { shareConnections, type ConnectionLimits } from "./admission.ts";
import { closeServer, listen } from "./listen.ts";
import type { AgentMetrics } from "./metrics.ts";
import { pipeliningGuard } from "./pipelining.ts";
import { startProbeServer, type ProbeServer } from "./probe-server.ts";
import { createRoutes, type Reply } from "./routes.ts";
import type { AgentView } from "./status.ts";

export interface StatusServer {
  readonly url: string;
  /** The probe port's URL; undefined when it was not asked for. */
  readonly probeUrl: string | undefined;
  close(): Promise<void>;
}

export interface ServerLimits extends ConnectionLimits {
  /**
   * Requests one connection may have waiting for their answers; past them it gets those answers
   * and is closed.
   */
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
 * - a connection with more than `pipelined` requests waiting for answers gets the answers it was
 *   owed and is then closed cleanly (see `pipeliningGuard`);
 * - answers not yet taken by the kernel stay under `bufferedBytes` in total; past it, 503
 *   (except small ones: probes always get their answer);
 * - a connection that makes no progress for 30 s (a client that stopped reading) is closed.
 * With `probe`, /healthz and /readyz are served on a second port of their own as well (see
 * `startProbeServer`), which answers kubelet whatever the clients of this one do.
 */
export async function startStatusServer(options: {
  host: string;
  port: number;
  view: AgentView;
  metrics: AgentMetrics;
  limits?: Partial<ServerLimits>;
  /** Where the probe port listens; none without it. */
  probe?: { readonly host: string; readonly port: number };
}): Promise<StatusServer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const route = createRoutes(options.view, options.metrics);
  const refused = new Counter({
    name: "prepull_http_refused_total",
    help: "Connections and requests the status server refused, by reason.",
    labelNames: ["reason"],
    registers: [options.metrics.registry],
  });
  const admitted = pipeliningGuard(limits.pipelined, () => {
    refused.inc({ reason: "pipelined" });
  });
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
      if (!admitted(request, response)) return;
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

  let url: string;
  try {
    url = await listen(server, options.host, options.port);
  } catch (error) {
    await closeServer(server);
    throw error;
  }
  let probe: ProbeServer | undefined;
  if (options.probe !== undefined) {
    try {
      probe = await startProbeServer({
        ...options.probe,
        view: options.view,
        onEvicted: () => {
          refused.inc({ reason: "probe_capacity" });
        },
      });
    } catch (error) {
      await closeServer(server);
      throw error;
    }
    const probes = probe;
    new Gauge({
      name: "prepull_http_probe_connections",
      help: "Connections open to the probe port.",
      registers: [options.metrics.registry],
      collect() {
        this.set(probes.open());
      },
    });
  }
  return {
    url,
    probeUrl: probe?.url,
    async close() {
      await Promise.all([closeServer(server), probe?.close()]);
    },
  };
}
