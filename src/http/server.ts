import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AgentMetrics } from "./metrics.ts";
import type { AgentView } from "./status.ts";

export interface StatusServer {
  readonly url: string;
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, type: string, body: string, method: string): void {
  response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  response.end(method === "HEAD" ? undefined : body);
}

/** The agent's read-only HTTP face: GET/HEAD only, small limits, nothing read from bodies. */
export async function startStatusServer(options: {
  host: string;
  port: number;
  view: AgentView;
  metrics: AgentMetrics;
}): Promise<StatusServer> {
  const { view, metrics } = options;
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" });
      response.end("method not allowed\n");
      request.resume();
      return;
    }
    const url = new URL(request.url ?? "/", "http://agent");
    switch (url.pathname) {
      case "/healthz":
      case "/readyz": {
        const verdict = url.pathname === "/healthz" ? view.health() : view.readiness();
        send(
          response,
          verdict.ok ? 200 : 503,
          "text/plain; charset=utf-8",
          verdict.ok ? "ok\n" : `${verdict.reason}\n`,
          method,
        );
        return;
      }
      case "/metrics":
        send(response, 200, metrics.registry.contentType, await metrics.registry.metrics(), method);
        return;
      case "/v1/status": {
        const pretty = url.searchParams.has("pretty");
        send(
          response,
          200,
          "application/json",
          JSON.stringify(view.status(), null, pretty ? 2 : 0) + "\n",
          method,
        );
        return;
      }
      default:
        send(
          response,
          404,
          "application/json",
          JSON.stringify({ error: `no such path: ${url.pathname}` }) + "\n",
          method,
        );
    }
  };
  const server = createServer(
    { maxHeaderSize: 16 * 1024, requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 },
    (request, response) => {
      handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
        response.end(`internal error: ${error instanceof Error ? error.message : String(error)}\n`);
      });
    },
  );
  server.maxConnections = 64;
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
