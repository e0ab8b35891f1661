import { describe, expect, it } from "vitest";
import { BootstrapGate } from "./bootstrap.ts";
import type { GateVerdict } from "./verdict.ts";

const start = new Date("2026-01-01T00:00:00Z");
const at = (seconds: number): Date => new Date(start.getTime() + seconds * 1000);
const waiting: GateVerdict = { open: false, reason: "WaitingForImages", message: "0/1 gated images warm" };
const failing: GateVerdict = {
  open: false,
  reason: "ImagesFailing",
  message: "0/1 gated images warm; a:1 failed",
};
const warm: GateVerdict = { open: true, reason: "ImagesWarm", message: "1/1 gated images warm" };

describe("BootstrapGate", () => {
  it("opens once warm and stays open: a later failure does not close it", () => {
    const gate = new BootstrapGate({ deadlineMs: null, atDeadline: "hold" }, start);
    expect(gate.update(waiting, at(5))).toMatchObject({
      open: false,
      reason: "WaitingForImages",
      deadlineAt: null,
    });
    const opened = gate.update(warm, at(30));
    expect(opened).toEqual({ ...warm, openedAt: at(30), deadlineAt: null });
    expect(gate.update(failing, at(60))).toEqual(opened);
  });

  it("opens at the deadline when told to, saying it was not warm", () => {
    const gate = new BootstrapGate({ deadlineMs: 60_000, atDeadline: "open" }, start);
    expect(gate.update(failing, at(59))).toMatchObject({
      open: false,
      reason: "ImagesFailing",
      deadlineAt: at(60),
    });
    expect(gate.update(failing, at(60))).toEqual({
      open: true,
      reason: "DeadlineOpened",
      message: "opened at the deadline, not warm: 0/1 gated images warm; a:1 failed",
      openedAt: at(60),
      deadlineAt: at(60),
    });
    expect(gate.update(waiting, at(90)).reason).toBe("DeadlineOpened");
  });

  it("holds past the deadline when told to, and still opens once warm", () => {
    const gate = new BootstrapGate({ deadlineMs: 60_000, atDeadline: "hold" }, start);
    expect(gate.update(failing, at(61))).toEqual({
      open: false,
      reason: "DeadlineHeld",
      message: "held past the deadline: 0/1 gated images warm; a:1 failed",
      openedAt: null,
      deadlineAt: at(60),
    });
    expect(gate.update(warm, at(120))).toMatchObject({ open: true, reason: "ImagesWarm", openedAt: at(120) });
  });
});
