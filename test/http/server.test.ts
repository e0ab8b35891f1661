import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAgentMetrics,
  startStatusServer,
  type AgentStatus,
  type AgentView,
  type StatusServer,
} from "../../src/http/index.ts";
import { agentStatus, reportedEntry } from "../../src/agent-status/testing/index.ts";
import { pipelineAndRead } from "./attacks.ts";

// The agent's HTTP face on a real socket, with a view whose answers the test sets.
let healthy = true;
const status: AgentStatus = agentStatus({ generation: "abc123", warm: true });
const view: AgentView = {
  status: () => status,
  health: () => (healthy ? { ok: true, reason: "ok" } : { ok: false, reason: "runtime unreachable for 61s" }),
  readiness: () => ({ ok: true, reason: "started" }),
  gate: () => ({ open: true, reason: "ImagesWarm", message: "2/2 gated images warm" }),
};
let server: StatusServer;

/** Writes raw bytes on a new connection and collects everything until the server hangs up. */
function rawRequest(target: StatusServer, bytes: string): Promise<string> {
  const { port } = new URL(target.url);
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => {
      socket.write(bytes);
    });
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
    socket.on("close", () => {
      resolve(text);
    });
    socket.on("error", reject);
  });
}

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
    for (const path of ["//", "//v1/status", "///healthz", "/v1//status"]) {
      const answer = await rawRequest(server, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 404 /);
      expect(answer).toContain(JSON.stringify({ error: `no such path: ${path}` }));
    }
    const absolute = await rawRequest(
      server,
      "GET http://agent/healthz HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n",
    );
    expect(absolute).toMatch(/^HTTP\/1\.1 200 /);
    expect(await rawRequest(server, "GET * HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n")).toMatch(
      /^HTTP\/1\.1 400 /,
    );
    const head = await fetch(`${server.url}/v1/status`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("refuses oversized headers with 431 instead of reading them", async () => {
    const answer = await rawRequest(
      server,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(32 * 1024)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
  });
});

describe("the status server's limits", () => {
  /** A server of its own with small limits, and a status whose body is `entries` long. */
  async function limitedServer(limits: Parameters<typeof startStatusServer>[0]["limits"], entries = 0) {
    const entry = reportedEntry("registry.example/app:1.0", {
      state: "failed",
      attempts: 1,
      errorKind: "not_found",
      message: "x".repeat(1000),
    });
    const big: AgentStatus = { ...status, entries: Array.from({ length: entries }, () => entry) };
    const bigView: AgentView = { ...view, status: () => big };
    return startStatusServer({
      host: "127.0.0.1",
      port: 0,
      view: bigView,
      metrics: createAgentMetrics(bigView),
      ...(limits ? { limits } : {}),
    });
  }

  /** An open connection from `address` that sends `bytes` and reads nothing. */
  async function silent(target: StatusServer, address: string, bytes = ""): Promise<Socket> {
    const socket = connect({
      port: Number(new URL(target.url).port),
      host: "127.0.0.1",
      localAddress: address,
    });
    socket.pause();
    socket.on("error", () => undefined);
    await new Promise((resolve) => socket.once("connect", resolve));
    if (bytes !== "") socket.write(bytes);
    return socket;
  }

  const closed = (socket: Socket): Promise<void> =>
    new Promise((resolve) => {
      socket.resume();
      if (socket.destroyed) resolve();
      socket.once("close", () => {
        resolve();
      });
    });

  it("gives one client address at most its share, and lets a newcomer in by closing a hog's oldest", async () => {
    const limited = await limitedServer({ total: 4, perClient: 3 });
    try {
      const hog = [await silent(limited, "127.0.0.2"), await silent(limited, "127.0.0.2")];
      hog.push(await silent(limited, "127.0.0.2"));
      const refused = await silent(limited, "127.0.0.2");
      await closed(refused);
      const other = await silent(limited, "127.0.0.3");
      // All four taken (3 + 1); the prober comes from a third address and gets its answer.
      expect((await fetch(`${limited.url}/healthz`)).status).toBe(200);
      await closed(hog[0] as Socket);
      expect(hog.slice(1).every((socket) => !socket.destroyed) && !other.destroyed).toBe(true);
      const metrics = await (await fetch(`${limited.url}/metrics`)).text();
      expect(metrics).toContain('prepull_http_refused_total{reason="per_client"} 1');
      expect(metrics).toMatch(/prepull_http_refused_total\{reason="capacity"\} [1-9]/);
      for (const socket of [...hog, other]) socket.destroy();
    } finally {
      await limited.close();
    }
  });

  it("closes a connection that pipelines more requests than it reads answers", async () => {
    const limited = await limitedServer({ pipelined: 2 });
    try {
      const socket = await silent(limited, "127.0.0.2", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3));
      await closed(socket);
      expect(await (await fetch(`${limited.url}/metrics`)).text()).toContain(
        'prepull_http_refused_total{reason="pipelined"} 1',
      );
    } finally {
      await limited.close();
    }
  });

  it("answers the 8 pipelined requests it accepts of 12, then ends the connection cleanly", async () => {
    const port = Number(new URL(server.url).port);
    for (const afterEnd of [undefined, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"]) {
      // Sent after the server's end, a request is read and dropped, not answered with a reset.
      const read = await pipelineAndRead(port, "/healthz", 12, afterEnd === undefined ? {} : { afterEnd });
      expect(read).toEqual({
        statuses: Array.from({ length: 8 }, () => 200),
        trailing: "",
        endedByServer: true,
        error: undefined,
      });
    }
    // Up to the limit, nothing is refused and the connection stays open.
    const eight = await pipelineAndRead(port, "/readyz", 8, { timeoutMs: 1_000 });
    expect(eight).toMatchObject({ statuses: Array.from({ length: 8 }, () => 200), endedByServer: false });
  });

  it("answers 503 once unread answers reach the buffer budget, and counts them all back out", async () => {
    // A 32 MB status: more than the kernel takes for a client that does not read.
    const limited = await limitedServer({ bufferedBytes: 1024 * 1024 }, 32 * 1024);
    try {
      const request = "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n";
      const first = await silent(limited, "127.0.0.2", request);
      // The first answer is held for the client that does not read; the next does not fit.
      await expect
        .poll(async () => (await fetch(`${limited.url}/v1/status`)).status, { timeout: 15_000 })
        .toBe(503);
      const busy = await fetch(`${limited.url}/v1/status`);
      expect(busy.headers.get("retry-after")).toBe("1");
      expect(await busy.text()).toBe("busy: too many unread answers\n");
      expect((await fetch(`${limited.url}/healthz`)).status).toBe(200);
      first.destroy();
      await expect
        .poll(
          async () =>
            (await (await fetch(`${limited.url}/metrics`)).text()).match(
              /prepull_http_buffered_bytes \d+/,
            )?.[0],
          { timeout: 15_000 },
        )
        .toBe("prepull_http_buffered_bytes 0");
    } finally {
      await limited.close();
    }
  });
});
