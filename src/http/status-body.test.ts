import { describe, expect, it } from "vitest";
import type { AgentStatus } from "../agent-status/index.ts";
import { agentStatus, reportedEntry, type StatusChanges } from "../agent-status/testing/index.ts";
import { StatusBodies } from "./status-body.ts";

const entry = reportedEntry("registry.example/app:1.0");
const files = ["/etc/prepull/set.yaml"];
const pins = { available: true, reason: null, count: 0, bytes: 0, budgetBytes: null };
const entries = [entry, { ...entry, image: "registry.example/db:2.0" }];
const summary = { pending: 2, pulling: 0, present: 0, failed: 0, blocked: 0, drifted: 0, total: 2 };

/** A status built afresh, as the agent builds one per request, from the parts it holds. */
function build(changes: StatusChanges = {}): AgentStatus {
  return agentStatus({ summary, entries: [...entries], ...changes });
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
