import { describe, expect, it } from "vitest";
import { agentStatusSchema } from "../index.ts";
import { agentStatus, reportedEntry } from "./index.ts";

describe("the status fixture", () => {
  it("builds documents the contract reads back whole, summary and warm following the entries", () => {
    const entries = [reportedEntry("a:1", { state: "present" }), reportedEntry("b:1", { state: "failed" })];
    const status = agentStatus({ entries, runtime: { reachable: false } });
    expect(agentStatusSchema.parse(status)).toEqual(status);
    expect(status.summary).toMatchObject({ present: 1, failed: 1, pending: 0, total: 2 });
    expect(status.warm).toBe(false);
    expect(status.runtime).toMatchObject({ reachable: false, name: "containerd" });
    expect(agentStatusSchema.parse(agentStatus())).toEqual(agentStatus());
    expect(agentStatus().warm).toBe(true);
  });
});
