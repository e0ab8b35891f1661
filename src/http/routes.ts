import type { AgentMetrics } from "./metrics.ts";
import type { AgentView } from "./status.ts";
import { StatusBodies } from "./status-body.ts";

export interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: Buffer | string;
  readonly headers?: Readonly<Record<string, string>>;
}

const text = (status: number, body: string, headers?: Record<string, string>): Reply => ({
  status,
  type: "text/plain; charset=utf-8",
  body,
  ...(headers ? { headers } : {}),
});

const json = (status: number, value: unknown): Reply => ({
  status,
  type: "application/json",
  body: JSON.stringify(value) + "\n",
});

/**
 * The request target's path and query. An origin-form target (`/path?query`) is parsed against a
 * fixed origin, so that one URL parsing would take for scheme-relative (`//`, `//host/x`) stays a
 * path, which then matches no route; the absolute form (`http://host/path`) HTTP/1.1 servers must
 * accept as well.
 */
function targetOf(raw: string): URL | undefined {
  return URL.parse(raw.startsWith("/") ? `http://agent${raw}` : raw) ?? undefined;
}

/** The agent's read-only routes: what to answer, decided before anything is written. */
export function createRoutes(
  view: AgentView,
  metrics: AgentMetrics,
): (method: string, raw: string) => Promise<Reply> {
  const bodies = new StatusBodies();
  return async (method, raw) => {
    if (method !== "GET" && method !== "HEAD") {
      return text(405, "method not allowed\n", { allow: "GET, HEAD" });
    }
    const url = targetOf(raw);
    if (url === undefined) return json(400, { error: "malformed request target" });
    switch (url.pathname) {
      case "/healthz":
      case "/readyz": {
        const verdict = url.pathname === "/healthz" ? view.health() : view.readiness();
        return text(verdict.ok ? 200 : 503, verdict.ok ? "ok\n" : `${verdict.reason}\n`);
      }
      case "/metrics":
        return { status: 200, type: metrics.registry.contentType, body: await metrics.registry.metrics() };
      case "/v1/status":
        return {
          status: 200,
          type: "application/json",
          body: bodies.body(view.status(), url.searchParams.has("pretty")),
        };
      default:
        return json(404, { error: `no such path: ${url.pathname}` });
    }
  };
}
