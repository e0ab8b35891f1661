import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAgentMetrics,
  startStatusServer,
  type AgentStatus,
  type AgentView,
  type StatusServer,
} from "../../src/http/index.ts";
import { startProbeServer } from "../../src/http/probe-server.ts";
import { pipelineAndRead } from "./attacks.ts";

// The probe port on a real socket: what it answers, and how it keeps room for a newcomer.
let healthy = true;
const view: AgentView = {
  status: () => ({}) as AgentStatus,
  health: () => (healthy ? { ok: true, reason: "ok" } : { ok: false, reason: "runtime unreachable for 61s" }),
  readiness: () => ({ ok: false, reason: "not warm: 1/2 present" }),
  gate: () => ({
    open: false,
    reason: "WaitingForImages",
    message: "1/2 gated images warm; waiting for b:1 (pulling)",
  }),
};
let server: StatusServer;

beforeAll(async () => {
  server = await startStatusServer({
    host: "127.0.0.1",
    port: 0,
    view,
    metrics: createAgentMetrics(view),
    probe: { host: "127.0.0.1", port: 0 },
  });
});

afterAll(async () => {
  await server.close();
});

/** An open connection from 127.0.0.1 that sends `bytes` (nothing by default) and reads nothing. */
async function silent(url: string, bytes = ""): Promise<Socket> {
  const socket = connect({ port: Number(new URL(url).port), host: "127.0.0.1", localAddress: "127.0.0.1" });
  socket.on("error", () => undefined);
  await new Promise((resolve) => socket.once("connect", resolve));
  if (bytes !== "") socket.write(bytes);
  return socket;
}

/** Whether the server closed `socket` within `ms`. */
async function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return true;
  socket.resume();
  const closed = new Promise<boolean>((resolve) =>
    socket.once("close", () => {
      resolve(true);
    }),
  );
  return Promise.race([closed, sleep(ms, false)]);
}

describe("the probe port", () => {
  it("answers /healthz and /readyz as the main port does, and closes each connection", async () => {
    const probeUrl = server.probeUrl ?? "";
    expect(probeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(probeUrl).not.toBe(server.url);
    for (const base of [server.url, probeUrl]) {
      healthy = true;
      const health = await fetch(`${base}/healthz`);
      expect([health.status, await health.text()]).toEqual([200, "ok\n"]);
      healthy = false;
      const sick = await fetch(`${base}/healthz`);
      expect([sick.status, await sick.text()]).toEqual([503, "runtime unreachable for 61s\n"]);
      const ready = await fetch(`${base}/readyz`);
      expect([ready.status, await ready.text()]).toEqual([503, "not warm: 1/2 present\n"]);
    }
    healthy = true;
    const answer = await fetch(`${probeUrl}/healthz`);
    expect(answer.headers.get("connection")).toBe("close");
    const head = await fetch(`${probeUrl}/healthz`, { method: "HEAD" });
    expect([head.status, await head.text()]).toEqual([200, ""]);
  });

  it("serves nothing else: other paths 404, other methods 405", async () => {
    const probeUrl = server.probeUrl ?? "";
    for (const path of ["/metrics", "/v1/status", "/", "//healthz"]) {
      expect((await fetch(`${probeUrl}${path}`)).status).toBe(404);
    }
    const post = await fetch(`${probeUrl}/healthz`, { method: "POST", body: "x" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    // One request per connection: whatever was pipelined after it is dropped.
    const pipelined = await pipelineAndRead(Number(new URL(probeUrl).port), "/healthz", 3);
    expect(pipelined).toMatchObject({ statuses: [200], endedByServer: true });
  });

  it("is not started unless asked for", async () => {
    const plain = await startStatusServer({
      host: "127.0.0.1",
      port: 0,
      view,
      metrics: createAgentMetrics(view),
    });
    try {
      expect(plain.probeUrl).toBeUndefined();
    } finally {
      await plain.close();
    }
  });

  it("closes a client that sends its headers slowly within seconds", async () => {
    const slow = await silent(server.probeUrl ?? "", "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    // The headers timeout is 2 s, checked every half second.
    expect(await closedWithin(slow, 5_000)).toBe(true);
  });
});

describe("the probe port's connection cap", () => {
  it("lets every newcomer in by closing the oldest connection, whatever their address", async () => {
    let evicted = 0;
    const probes = await startProbeServer({
      host: "127.0.0.1",
      port: 0,
      view,
      connections: 4,
      onEvicted: () => (evicted += 1),
    });
    try {
      const held = [await silent(probes.url), await silent(probes.url), await silent(probes.url)];
      held.push(await silent(probes.url, "GET /healthz HTTP/1.1\r\n"));
      expect(probes.open()).toBe(4);
      // All four taken, all from the prober's own address: the probe still gets its answer.
      expect((await fetch(`${probes.url}/healthz`)).status).toBe(200);
      expect(await closedWithin(held[0] as Socket, 5_000)).toBe(true);
      expect(held.slice(1).map((socket) => socket.destroyed)).toEqual([false, false, false]);
      expect(evicted).toBe(1);
      for (let i = 0; i < 8; i++) expect((await fetch(`${probes.url}/readyz`)).status).toBe(503);
      expect(probes.open()).toBeLessThanOrEqual(4);
      for (const socket of held) socket.destroy();
    } finally {
      await probes.close();
    }
  });
});
