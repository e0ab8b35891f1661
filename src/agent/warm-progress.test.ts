import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ENTRY_STATES, type GenerationTimes } from "../warm/index.ts";
import { reportWarmProgress, type WarmProgressSource } from "./warm-progress.ts";

type Counts = ReturnType<WarmProgressSource["status"]>["counts"];

function counts(partial: Partial<Counts>): Counts {
  const zero = Object.fromEntries(ENTRY_STATES.map((state) => [state, 0])) as Counts;
  const all = { ...zero, ...partial };
  return { ...all, total: ENTRY_STATES.reduce((sum, state) => sum + all[state], 0) };
}

function source(initial: Counts): WarmProgressSource & { counts: Counts; times: GenerationTimes } {
  return {
    counts: initial,
    times: { startedAt: Date.now(), warmAt: null },
    status() {
      return { generation: "g1", counts: this.counts };
    },
    generationTimes() {
      return this.times;
    },
  };
}

const memory = () => ({ rssBytes: 120e6, heapUsedBytes: 30e6 });

describe("reportWarmProgress", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("logs how far the generation got, and the agent's memory, at every interval until warm", () => {
    const lines: unknown[][] = [];
    const set = source(counts({ present: 10, pulling: 4, pending: 80, failed: 1, blocked: 1, drifted: 4 }));
    const reporter = reportWarmProgress(
      set,
      { info: (...args) => lines.push(args) },
      { intervalMs: 1_000, memory },
    );

    vi.advanceTimersByTime(999);
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(lines).toEqual([
      [
        {
          generation: "g1",
          present: 10,
          total: 100,
          pulling: 4,
          pending: 80,
          failing: 6,
          seconds: 1,
          rssBytes: 120e6,
          heapUsedBytes: 30e6,
        },
        "warming",
      ],
    ]);

    set.counts = counts({ present: 100 });
    set.times = { ...set.times, warmAt: Date.now() };
    vi.advanceTimersByTime(5_000);
    expect(lines).toHaveLength(1);
    reporter.stop();
  });

  it("says nothing of an empty set, nor after it is stopped", () => {
    const lines: unknown[][] = [];
    const set = source(counts({}));
    const reporter = reportWarmProgress(
      set,
      { info: (...args) => lines.push(args) },
      { intervalMs: 1_000, memory },
    );
    vi.advanceTimersByTime(3_000);
    expect(lines).toEqual([]);

    set.counts = counts({ pending: 3 });
    reporter.stop();
    vi.advanceTimersByTime(3_000);
    expect(lines).toEqual([]);
  });

  it("reports the process's own memory by default", () => {
    const lines: Array<Record<string, unknown>> = [];
    const reporter = reportWarmProgress(
      source(counts({ pending: 1 })),
      { info: (fields) => lines.push(fields as Record<string, unknown>) },
      { intervalMs: 1_000 },
    );
    vi.advanceTimersByTime(1_000);
    reporter.stop();
    expect(lines[0]?.rssBytes).toBeGreaterThan(1e6);
    expect(lines[0]?.heapUsedBytes).toBeGreaterThan(1e6);
  });
});
