import { describe, expect, it } from "vitest";
import type { StateCounts } from "./entries.ts";
import { GenerationTiming } from "./generation-timing.ts";

const counts = (present: number, total: number): StateCounts => ({
  pending: total - present,
  pulling: 0,
  present,
  failed: 0,
  blocked: 0,
  drifted: 0,
  total,
});

function timing() {
  let now = 1_000;
  const clock = { now: () => now };
  return {
    timing: new GenerationTiming(clock),
    at: (ms: number) => {
      now = ms;
    },
  };
}

describe("GenerationTiming", () => {
  it("times a generation from taking force to the first moment every entry is present", () => {
    const { timing: t, at } = timing();
    expect(t.waiting()).toBe(false);
    t.started("g1");
    expect(t.times()).toEqual({ startedAt: 1_000, warmAt: null });
    at(2_000);
    t.observe(counts(1, 2));
    expect(t.times().warmAt).toBeNull();
    at(3_500);
    t.observe(counts(2, 2));
    expect(t.times()).toEqual({ startedAt: 1_000, warmAt: 3_500 });
    expect(t.waiting()).toBe(false);
  });

  it("keeps the first warm time when the node later loses an image and warms again", () => {
    const { timing: t, at } = timing();
    t.started("g1");
    at(2_000);
    t.observe(counts(2, 2));
    at(9_000);
    t.observe(counts(1, 2));
    t.observe(counts(2, 2));
    expect(t.times().warmAt).toBe(2_000);
  });

  it("starts over on a new generation, and not on the one already in force", () => {
    const { timing: t, at } = timing();
    t.started("g1");
    at(2_000);
    t.observe(counts(1, 1));
    at(5_000);
    t.started("g1");
    expect(t.times()).toEqual({ startedAt: 1_000, warmAt: 2_000 });
    t.started("g2");
    expect(t.times()).toEqual({ startedAt: 5_000, warmAt: null });
    expect(t.waiting()).toBe(true);
    // A set whose new entries are all present already (entries only left it) is warm at once.
    t.observe(counts(3, 3));
    expect(t.times().warmAt).toBe(5_000);
  });
});
