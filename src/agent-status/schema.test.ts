import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FAILURE_KINDS } from "../failure/index.ts";
import { ENTRY_STATES } from "../warm/index.ts";
import { agentStatusSchema } from "./index.ts";

// A document served by a real agent (containerd 2.1, a registry; one entry drifted, one not
// found, a broken second ImageSet file), with the test machine's addresses and paths replaced.
const real = JSON.parse(
  readFileSync(new URL("testdata/agent-status.json", import.meta.url), "utf8"),
) as Record<string, unknown> & { entries: Array<Record<string, unknown>>; summary: Record<string, unknown> };

const withEntry = (change: Record<string, unknown>): Record<string, unknown> => ({
  ...real,
  entries: [{ ...real.entries[0], ...change }],
});

describe("the /v1/status contract", () => {
  it("reads a real (older) agent's document whole: nothing it sends is outside the schema", () => {
    const parsed = agentStatusSchema.parse(real);
    // Unknown fields would be dropped, so equality means the schema names every field. The
    // document predates empty-file reports, support levels, pins, the gate and entry sources:
    // `prepull wait` reads such an agent with those unknown.
    expect(parsed).toEqual({
      ...real,
      config: { ...(real.config as object), emptyFiles: [] },
      runtime: { ...(real.runtime as object), support: null },
      pins: {
        available: false,
        reason: "the agent does not report pins",
        count: 0,
        bytes: 0,
        budgetBytes: null,
      },
      gate: null,
      entries: real.entries.map((entry) => ({
        ...entry,
        pinned: null,
        pinReason: null,
        progress: null,
        source: null,
      })),
    });
    expect(parsed.entries.map((entry) => entry.state)).toEqual(["present", "present", "drifted", "failed"]);
    expect(parsed.entries[3]?.errorKind).toBe("not_found");
  });

  it("takes its entry states and failure kinds from the one list of each", () => {
    for (const state of ENTRY_STATES)
      expect(agentStatusSchema.safeParse(withEntry({ state })).success).toBe(true);
    for (const errorKind of FAILURE_KINDS) {
      expect(agentStatusSchema.safeParse(withEntry({ state: "failed", errorKind })).success).toBe(true);
    }
    const state = agentStatusSchema.safeParse(withEntry({ state: "warming" }));
    expect(state.error?.issues[0]?.path).toEqual(["entries", 0, "state"]);
    const kind = agentStatusSchema.safeParse(withEntry({ errorKind: "oops" }));
    expect(kind.error?.issues[0]?.path).toEqual(["entries", 0, "errorKind"]);
  });

  it("refuses documents that are not a prepull agent's status, naming the field", () => {
    const cases: Array<[unknown, Array<string | number>]> = [
      [{ ...real, entries: undefined }, ["entries"]],
      [{ ...real, warm: "yes" }, ["warm"]],
      [{ ...real, summary: { ...real.summary, drifted: undefined } }, ["summary", "drifted"]],
      [{ ...real, startedAt: "yesterday" }, ["startedAt"]],
      [withEntry({ attempts: -1 }), ["entries", 0, "attempts"]],
      [{ status: "ok" }, ["node"]],
    ];
    for (const [document, path] of cases) {
      expect(agentStatusSchema.safeParse(document).error?.issues[0]?.path).toEqual(path);
    }
  });

  it("still reads a newer agent that sends a field this one does not know", () => {
    const parsed = agentStatusSchema.parse({ ...withEntry({ layers: 3 }), uptimeSeconds: 5 });
    expect(parsed).not.toHaveProperty("uptimeSeconds");
    expect(parsed.entries[0]).not.toHaveProperty("layers");
  });

  it("reads an agent's pins, and refuses a pin count that is not a count", () => {
    const pins = { available: true, reason: null, count: 2, bytes: 4096, budgetBytes: 1 << 30 };
    const current = { ...withEntry({ pinned: false, pinReason: "budget" }), pins };
    const parsed = agentStatusSchema.parse(current);
    expect(parsed.pins).toEqual(pins);
    expect(parsed.entries[0]).toMatchObject({ pinned: false, pinReason: "budget" });
    const bad = agentStatusSchema.safeParse({ ...current, pins: { ...pins, count: -1 } });
    expect(bad.error?.issues[0]?.path).toEqual(["pins", "count"]);
  });
});
