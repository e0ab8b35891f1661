import { describe, expect, it } from "vitest";
import { createAgentMetrics } from "./metrics.ts";
import { createProbeRoutes, createRoutes } from "./routes.ts";
import type { AgentView } from "./status.ts";

let healthy = true;
let gateOpen = false;
const view: AgentView = {
  status: () => {
    throw new Error("the probe routes never read the status");
  },
  health: () => (healthy ? { ok: true, reason: "ok" } : { ok: false, reason: "runtime unreachable for 61s" }),
  readiness: () => ({ ok: false, reason: "not warm: 1/2 present" }),
  gate: () => ({
    open: gateOpen,
    reason: "WaitingForImages",
    message: "1/2 gated images warm; waiting for b:1 (pulling)",
  }),
};

describe("the probe port's routes", () => {
  const probe = createProbeRoutes(view);
  const main = createRoutes(view, createAgentMetrics(view));

  it("answer /healthz and /readyz as the main port's routes do", async () => {
    for (const health of [true, false]) {
      healthy = health;
      for (const target of ["/healthz", "/readyz", "/healthz?verbose", "http://agent/readyz"]) {
        expect(probe("GET", target)).toEqual(await main("GET", target));
      }
    }
    healthy = false;
    expect(probe("GET", "/healthz")).toMatchObject({ status: 503, body: "runtime unreachable for 61s\n" });
    expect(probe("HEAD", "/readyz")).toMatchObject({ status: 503, body: "not warm: 1/2 present\n" });
    healthy = true;
    expect(probe("GET", "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
  });

  it("serve nothing else", () => {
    for (const target of ["/metrics", "/v1/status", "/", "//healthz", "/healthz/"]) {
      expect(probe("GET", target).status).toBe(404);
    }
    expect(probe("POST", "/healthz")).toMatchObject({ status: 405, headers: { allow: "GET, HEAD" } });
    expect(probe("GET", "*").status).toBe(400);
  });
});

describe("the readiness gate's route", () => {
  const main = createRoutes(view, createAgentMetrics(view));

  it("answers 2xx only when the gate is open, with the reason in the body the reporter copies", async () => {
    gateOpen = false;
    expect(await main("GET", "/v1/gate")).toMatchObject({
      status: 503,
      body: "closed: WaitingForImages: 1/2 gated images warm; waiting for b:1 (pulling)\n",
    });
    gateOpen = true;
    expect(await main("GET", "/v1/gate")).toMatchObject({ status: 200 });
    expect((await main("GET", "/v1/gate")).body).toMatch(/^open: /);
    expect((await main("POST", "/v1/gate")).status).toBe(405);
  });

  it("is not on the probe port", () => {
    expect(createProbeRoutes(view)("GET", "/v1/gate").status).toBe(404);
  });
});
