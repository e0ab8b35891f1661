import { describe, expect, it } from "vitest";
import type { StatusOverview } from "../http/index.ts";
import { readinessOf } from "./readiness.ts";

const summary = (present: number, total: number): StatusOverview["summary"] =>
  ({ present, total }) as unknown as StatusOverview["summary"];

describe("readinessOf", () => {
  it("is ready once started, without reading the set", () => {
    const current = (): never => {
      throw new Error("not read");
    };
    expect(readinessOf("started", current)).toEqual({ ok: true, reason: "started" });
  });

  it("is ready when warm, naming the generation", () => {
    expect(readinessOf("warm", () => ({ warm: true, summary: summary(3, 3), generation: "g1" }))).toEqual({
      ok: true,
      reason: "warm at generation g1",
    });
  });

  it("is not ready until warm, counting what is present", () => {
    expect(readinessOf("warm", () => ({ warm: false, summary: summary(1, 3), generation: "g1" }))).toEqual({
      ok: false,
      reason: "not warm: 1/3 present",
    });
  });
});
