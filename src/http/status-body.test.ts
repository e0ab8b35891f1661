import { describe, expect, it } from "vitest";
import type { AgentStatus } from "../agent-status/index.ts";
import { StatusBodies } from "./status-body.ts";

const entry = {
  image: "registry.example/app:1.0",
  digest: null,
  state: "pending" as const,
  imageId: null,
  size: null,
  attempts: 0,
  lastPullSeconds: null,
  errorKind: null,
  message: null,
  nextRetryAt: null,
  registryDigest: null,
  pinned: null,
  pinReason: null,
  progress: null,
};
const files = ["/etc/prepull/set.yaml"];
const sets = ["web"];
const emptyFiles: string[] = [];
const pins = { available: true, reason: null, count: 0, bytes: 0, budgetBytes: null };
const entries = [entry, { ...entry, image: "registry.example/db:2.0" }];

/** A status built afresh, as the agent builds one per request, from the parts it holds. */
function build(changes: Partial<AgentStatus> = {}): AgentStatus {
  return {
    node: "node-a",
    version: "test",
    startedAt: new Date(0).toISOString(),
    generation: "g1",
    warm: false,
    config: { files, sets, emptyFiles, error: null },
    runtime: {
      endpoint: "unix:///run/containerd/containerd.sock",
      reachable: true,
      lastContactAt: null,
      error: null,
      name: "containerd",
      version: "2.1.9",
      apiVersion: "v1",
      support: null,
    },
    lastPass: null,
    summary: { pending: 2, pulling: 0, present: 0, failed: 0, blocked: 0, drifted: 0, total: 2 },
    pins,
    gate: null,
    entries: [...entries],
    ...changes,
  };
}

describe("StatusBodies", () => {
  it("serves the same bytes while nothing in the status changed", () => {
    const bodies = new StatusBodies();
    const compact = bodies.body(build(), false);
    const pretty = bodies.body(build(), true);
    expect(bodies.body(build(), false)).toBe(compact);
    expect(bodies.body(build(), true)).toBe(pretty);
    expect(JSON.parse(compact.toString())).toEqual(build());
    expect(pretty.toString()).toContain('\n  "node": "node-a"');
  });

  it("serializes again when an entry, a field or a nested field changed", () => {
    const bodies = new StatusBodies();
    let last = bodies.body(build(), false);
    const changed: Array<Partial<AgentStatus>> = [
      { entries: [entries[0] ?? entry, { ...entry, image: "registry.example/db:2.0", state: "pulling" }] },
      { entries: [entry] },
      { warm: true },
      { runtime: { ...build().runtime, reachable: false, error: "socket gone" } },
      { lastPass: { at: new Date(1).toISOString(), seconds: 0.5 } },
      { pins: { ...pins, count: 1 } },
      {
        config: { files: [...files, "/etc/prepull/other.yaml"], sets: ["web"], emptyFiles: [], error: null },
      },
    ];
    for (const change of changed) {
      const next = bodies.body(build(change), false);
      expect(next).not.toBe(last);
      expect(JSON.parse(next.toString())).toEqual(build(change));
      last = next;
    }
  });
});
