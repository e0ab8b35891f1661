import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAgentMetrics,
  startStatusServer,
  type AgentStatus,
  type AgentView,
  type StatusServer,
} from "../../src/http/index.ts";

// The agent's HTTP face on a real socket, with a view whose answers the test sets.
let healthy = true;
const status: AgentStatus = {
  node: "node-a",
  version: "test",
  startedAt: new Date(0).toISOString(),
  generation: "abc123",
  warm: true,
  config: { files: ["/etc/prepull/set.yaml"], sets: ["web"], error: null },
  runtime: {
    endpoint: "unix:///run/containerd/containerd.sock",
    reachable: true,
    lastContactAt: null,
    error: null,
    name: "containerd",
    version: "1.7",
    apiVersion: "v1",
  },
  lastPass: null,
  summary: { pending: 0, pulling: 0, present: 0, failed: 0, blocked: 0, drifted: 0, total: 0 },
  entries: [],
};
const view: AgentView = {
  status: () => status,
  health: () => (healthy ? { ok: true, reason: "ok" } : { ok: false, reason: "runtime unreachable for 61s" }),
  readiness: () => ({ ok: true, reason: "started" }),
};
let server: StatusServer;

beforeAll(async () => {
  const metrics = createAgentMetrics(view);
  metrics.configReloaded("abc123");
  server = await startStatusServer({ host: "127.0.0.1", port: 0, view, metrics });
});

afterAll(async () => {
  await server.close();
});

describe("the agent's status server", () => {
  it("answers health with the reason when unhealthy", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    healthy = false;
    const unhealthy = await fetch(`${server.url}/healthz`);
    expect(unhealthy.status).toBe(503);
    expect(await unhealthy.text()).toBe("runtime unreachable for 61s\n");
    healthy = true;
  });

  it("serves status as JSON, indented on ?pretty, and metrics as Prometheus text", async () => {
    const compact = await (await fetch(`${server.url}/v1/status`)).text();
    expect(JSON.parse(compact)).toMatchObject({ node: "node-a", generation: "abc123", warm: true });
    expect(compact.trim()).not.toContain("\n");
    expect(await (await fetch(`${server.url}/v1/status?pretty`)).text()).toContain('\n  "node": "node-a"');
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    const text = await metrics.text();
    expect(text).toContain('prepull_config_generation_info{generation="abc123"} 1');
    expect(text).toContain("prepull_warm 1");
    expect(text).toContain("process_resident_memory_bytes");
  });

  it("is read-only: other methods get 405 with Allow, unknown paths 404, HEAD no body", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const response = await fetch(`${server.url}/v1/status`, { method, body: "x" });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("GET, HEAD");
    }
    const missing = await fetch(`${server.url}/v1/anything`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "no such path: /v1/anything" });
    const head = await fetch(`${server.url}/v1/status`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("refuses oversized headers with 431 instead of reading them", async () => {
    const { port } = new URL(server.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => {
        socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(32 * 1024)}\r\n\r\n`);
      });
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
      socket.on("close", () => {
        resolve(text);
      });
      socket.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
  });
});
