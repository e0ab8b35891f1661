import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PassTrigger } from "./pass-trigger.ts";

describe("PassTrigger", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A pass that takes `ms` of fake time and counts its runs. */
  function slowPass(ms: number) {
    const runs: number[] = [];
    const run = async (): Promise<void> => {
      runs.push(Date.now());
      await new Promise((resolve) => setTimeout(resolve, ms));
    };
    return { runs, run };
  }

  it("runs one pass at a time and coalesces requests made during a pass into one more", async () => {
    const pass = slowPass(100);
    const trigger = new PassTrigger(pass.run, () => undefined);
    trigger.request();
    trigger.request();
    trigger.request();
    expect(pass.runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(pass.runs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(pass.runs).toHaveLength(2);
  });

  it("runs a pass when its timer ends, the latest timer replacing earlier ones", async () => {
    const pass = slowPass(0);
    const trigger = new PassTrigger(pass.run, () => undefined);
    trigger.after(5_000);
    trigger.after(1_000);
    await vi.advanceTimersByTimeAsync(999);
    expect(pass.runs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(pass.runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(pass.runs).toHaveLength(1);
  });

  it("hands a failing pass to onError and keeps working", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const trigger = new PassTrigger(
      () => {
        calls += 1;
        return Promise.reject(new Error("boom"));
      },
      (error) => errors.push(error),
    );
    trigger.request();
    await vi.advanceTimersByTimeAsync(0);
    trigger.request();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(2);
    expect(errors.map((error) => (error as Error).message)).toEqual(["boom", "boom"]);
  });

  it("starts nothing after stop, waiting for the pass in progress", async () => {
    const pass = slowPass(100);
    const trigger = new PassTrigger(pass.run, () => undefined);
    trigger.request();
    trigger.after(50);
    const stopped = trigger.stop();
    trigger.request();
    await vi.advanceTimersByTimeAsync(1_000);
    await stopped;
    expect(pass.runs).toHaveLength(1);
  });
});
