import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agent, entry } from "./test-fixtures.ts";
import { statusRequestTimeout, waitForAgents, type ExpectedAgents, type WaitOptions } from "./wait.ts";

// One real agent-shaped HTTP server that is warm; the wait's expectation of how many agents there
// must be decides the outcome.
let server: Server;
let port: number;

beforeAll(async () => {
  const { status } = agent("node-a", [entry("x:1")]);
  server = createServer((_request, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify(status));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(
  () =>
    new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    ),
);

function options(expectedAgents?: ExpectedAgents, minAgents?: number): WaitOptions {
  return {
    source: { kind: "static", agents: [{ host: "127.0.0.1", port }] },
    target: { kind: "own" },
    timeoutMs: 0,
    intervalMs: 10,
    requestTimeoutMs: 1000,
    ...(minAgents === undefined ? {} : { minAgents }),
    ...(expectedAgents === undefined ? {} : { expectedAgents }),
  };
}

describe("waitForAgents with an expected number of agents", () => {
  it("is done when as many agents answer warm as expected", async () => {
    const outcome = await waitForAgents(options(() => Promise.resolve({ count: 1, source: "one node" })));
    expect(outcome.verdict.done).toBe(true);
  });

  it("is not done while fewer agents answer than the expectation names, and says whose", async () => {
    const outcome = await waitForAgents(
      options(() => Promise.resolve({ count: 2, source: "DaemonSet p/a is scheduled on 2 nodes" })),
    );
    expect(outcome.verdict.done).toBe(false);
    expect(outcome.timedOut).toBe(true);
    expect(outcome.verdict.reason).toContain(
      "waiting for at least 2 agents (DaemonSet p/a is scheduled on 2 nodes)",
    );
  });

  it("falls back to the minimum when the expectation cannot be known, and says why", async () => {
    const unknown: ExpectedAgents = () => Promise.resolve({ error: "HTTP 403 for /apis/…: forbidden" });
    const waiting = await waitForAgents(options(unknown, 2));
    expect(waiting.verdict.done).toBe(false);
    expect(waiting.verdict.reason).toContain(
      "(how many agents to expect is unknown: HTTP 403 for /apis/…: forbidden; expecting at least 2)",
    );
    expect((await waitForAgents(options(unknown, 1))).verdict.done).toBe(true);
  });
});

describe("statusRequestTimeout", () => {
  it("gives a request the poll interval, at least 1 s and at most 10 s", () => {
    expect([0, 200, 5_000, 60_000].map(statusRequestTimeout)).toEqual([1000, 1000, 5_000, 10_000]);
  });
});
