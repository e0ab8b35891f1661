import { createServer } from "node:http";
import type { Socket } from "node:net";
import { evictOldest } from "./admission.ts";
import { closeServer, listen } from "./listen.ts";
import { createProbeRoutes } from "./routes.ts";
import type { AgentView } from "./status.ts";

export interface ProbeServer {
  readonly url: string;
  /** Connections open to it now. */
  open(): number;
  close(): Promise<void>;
}

/** Connections the probe port keeps open at once; past it the oldest is closed for a newcomer. */
const PROBE_CONNECTIONS = 64;

/**
 * The probe port: a listener of its own for kubelet's probes, apart from the main port, as
 * Kubernetes' own components keep health apart from what they serve. It answers GET (and HEAD)
 * /healthz and /readyz as the main port does, 404 to any other path, and nothing else; every
 * answer is written at once and closes the connection. Built so that whatever else is connected,
 * to it or to the main port, from whatever address, a probe is answered:
 * - no share per client address (kubelet probes from the node's address, which every
 *   hostNetwork pod shares) and no refusal: past `connections`, a newcomer closes the oldest
 *   connection, the one slowest to send its request (see `evictOldest`);
 * - headers within 2 s and the request within 3 s, checked every half second; a connection that
 *   makes no progress for 3 s is closed;
 * - one request per connection: anything pipelined after it is dropped.
 */
export async function startProbeServer(options: {
  host: string;
  port: number;
  view: AgentView;
  connections?: number;
  onEvicted?: () => void;
}): Promise<ProbeServer> {
  const route = createProbeRoutes(options.view);
  const answered = new WeakSet<Socket>();
  const server = createServer(
    {
      maxHeaderSize: 8 * 1024,
      headersTimeout: 2_000,
      requestTimeout: 3_000,
      keepAliveTimeout: 1_000,
      connectionsCheckingInterval: 500,
    },
    (request, response) => {
      request.resume();
      if (answered.has(request.socket)) return;
      answered.add(request.socket);
      const method = request.method ?? "GET";
      const reply = route(method, request.url ?? "/");
      response.writeHead(reply.status, {
        "content-type": reply.type,
        "cache-control": "no-store",
        connection: "close",
        ...reply.headers,
      });
      response.end(method === "HEAD" ? undefined : reply.body);
    },
  );
  server.setTimeout(3_000);
  const connections = evictOldest(server, options.connections ?? PROBE_CONNECTIONS, () => {
    options.onEvicted?.();
  });
  let url: string;
  try {
    url = await listen(server, options.host, options.port);
  } catch (error) {
    await closeServer(server);
    throw error;
  }
  return {
    url,
    open: () => connections.open(),
    close: () => closeServer(server),
  };
}
