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

const PROBE_PATHS = new Set(["/healthz", "/readyz"]);

function probeReply(view: AgentView, pathname: string): Reply {
  const verdict = pathname === "/healthz" ? view.health() : view.readiness();
  return text(verdict.ok ? 200 : 503, verdict.ok ? "ok\n" : `${verdict.reason}\n`);
}

/**
 * What is answered before any route: 405 for a method that would change something, 400 for a
 * target that is no URL; else the target's URL.
 */
function checked(method: string, raw: string): Reply | URL {
  if (method !== "GET" && method !== "HEAD") {
    return text(405, "method not allowed\n", { allow: "GET, HEAD" });
  }
  return targetOf(raw) ?? json(400, { error: "malformed request target" });
}

const notFound = (url: URL): Reply => json(404, { error: `no such path: ${url.pathname}` });

/** The probe port's routes: /healthz and /readyz, answered as the main port answers them. */
export function createProbeRoutes(view: AgentView): (method: string, raw: string) => Reply {
  return (method, raw) => {
    const url = checked(method, raw);
    if (!(url instanceof URL)) return url;
    return PROBE_PATHS.has(url.pathname) ? probeReply(view, url.pathname) : notFound(url);
  };
}

/** The agent's read-only routes: what to answer, decided before anything is written. */
export function createRoutes(
  view: AgentView,
  metrics: AgentMetrics,
): (method: string, raw: string) => Promise<Reply> {
  const bodies = new StatusBodies();
  return async (method, raw) => {
    const url = checked(method, raw);
    if (!(url instanceof URL)) return url;
    if (PROBE_PATHS.has(url.pathname)) return probeReply(view, url.pathname);
    switch (url.pathname) {
      case "/metrics":
        return { status: 200, type: metrics.registry.contentType, body: await metrics.registry.metrics() };
      case "/v1/gate": {
        // The Node Readiness Controller's reporter: any 2xx is ready; otherwise the body (its
        // first 64 KiB) becomes the node condition's message.
        const gate = view.gate();
        return text(
          gate.open ? 200 : 503,
          `${gate.open ? "open" : "closed"}: ${gate.reason}: ${gate.message}\n`,
        );
      }
      case "/v1/status":
        return {
          status: 200,
          type: "application/json",
          body: bodies.body(view.status(), url.searchParams.has("pretty")),
        };
      default:
        return notFound(url);
    }
  };
}
