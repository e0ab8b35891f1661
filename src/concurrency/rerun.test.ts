import { describe, expect, it } from "vitest";
import { Rerunner } from "./rerun.ts";

function held(): { promise: Promise<void>; release: () => void } {
  let release = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

describe("Rerunner", () => {
  it("runs at once when idle, synchronously up to the task's first await", async () => {
    const seen: number[] = [];
    const runner = new Rerunner<number>(
      async (arg) => {
        seen.push(arg);
        await Promise.resolve();
      },
      () => undefined,
    );
    const done = runner.request(1);
    expect(seen).toEqual([1]);
    expect(runner.running).toBe(true);
    await done;
    expect(runner.running).toBe(false);
  });

  it("runs once more after the run in progress, with the latest argument, however many requests came", async () => {
    const seen: number[] = [];
    const gate = held();
    const runner = new Rerunner<number>(
      async (arg) => {
        seen.push(arg);
        if (arg === 1) await gate.promise;
      },
      () => undefined,
    );
    const first = runner.request(1);
    const second = runner.request(2);
    void runner.request(3);
    expect(second).toBe(first);
    expect(seen).toEqual([1]);
    gate.release();
    await runner.idle();
    expect(seen).toEqual([1, 3]);
    expect(runner.running).toBe(false);
  });

  it("hands a failure to onError and still runs the request made meanwhile", async () => {
    const errors: unknown[] = [];
    const seen: string[] = [];
    const gate = held();
    const runner = new Rerunner<string>(
      async (arg) => {
        seen.push(arg);
        if (arg === "first") {
          await gate.promise;
          throw new Error("boom");
        }
      },
      (error) => errors.push(error),
    );
    void runner.request("first");
    void runner.request("second");
    gate.release();
    await runner.idle();
    expect(seen).toEqual(["first", "second"]);
    expect(errors).toEqual([new Error("boom")]);
  });

  it("is idle again after a task that throws before it awaits", async () => {
    const errors: unknown[] = [];
    const runner = new Rerunner<void>(
      () => {
        throw new Error("at once");
      },
      (error) => errors.push(error),
    );
    await runner.request();
    expect(runner.running).toBe(false);
    expect(errors).toHaveLength(1);
    await runner.request();
    expect(errors).toHaveLength(2);
  });

  it("idle waits for a run requested while the last one ends", async () => {
    const seen: number[] = [];
    const runner = new Rerunner<number>(
      async (arg) => {
        seen.push(arg);
        await Promise.resolve();
        if (arg === 1) void runner.request(2);
      },
      () => undefined,
    );
    void runner.request(1);
    await runner.idle();
    expect(seen).toEqual([1, 2]);
  });
});
