import { describe, expect, it } from "vitest";
import { judgeGate, type GateEntry } from "./verdict.ts";

const entry = (image: string, state: GateEntry["state"], extra: Partial<GateEntry> = {}): GateEntry => ({
  image,
  state,
  errorKind: null,
  gated: true,
  ...extra,
});

describe("judgeGate", () => {
  it("opens when every gated image is present, whatever the ungated ones do", () => {
    const verdict = judgeGate(
      [entry("a:1", "present"), entry("big:1", "pulling", { gated: false }), entry("b:1", "present")],
      true,
    );
    expect(verdict).toEqual({ open: true, reason: "ImagesWarm", message: "2/2 gated images warm" });
  });

  it("stays closed until the first pass has looked at the node", () => {
    expect(judgeGate([entry("a:1", "present")], false)).toMatchObject({
      open: false,
      reason: "FirstPassPending",
    });
  });

  it("names failed and drifted entries first, with their kind", () => {
    const verdict = judgeGate(
      [
        entry("a:1", "pulling"),
        entry("b:1", "failed", { errorKind: "not_found" }),
        entry("c:1", "drifted"),
        entry("d:1", "present"),
      ],
      true,
    );
    expect(verdict).toEqual({
      open: false,
      reason: "ImagesFailing",
      message: "1/4 gated images warm; b:1 failed (not_found), c:1 drifted",
    });
  });

  it("names what it waits for, a few at most", () => {
    const verdict = judgeGate(
      ["a", "b", "c", "d", "e"].map((name) => entry(`${name}:1`, name === "e" ? "blocked" : "pending")),
      true,
    );
    expect(verdict).toEqual({
      open: false,
      reason: "WaitingForImages",
      message: "0/5 gated images warm; waiting for a:1 (pending), b:1 (pending), c:1 (pending) and 2 more",
    });
  });

  it("is open when no set gates the node", () => {
    expect(judgeGate([entry("a:1", "pending", { gated: false })], false)).toMatchObject({
      open: true,
      reason: "NothingGated",
    });
    expect(judgeGate([], true).reason).toBe("NothingGated");
  });
});
