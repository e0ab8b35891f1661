import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { FAILURE_KINDS, type FailureKind } from "../failure/index.ts";
import { ENTRY_STATES, type EntryFaults } from "../warm/index.ts";
import { DRIFT_SERIES_LIMIT, PIN_REASONS, registerFleetMetrics, type FleetSource } from "./fleet-metrics.ts";
import { createAgentMetrics, type StatusOverview } from "./metrics.ts";

const T0 = Date.parse("2026-03-01T12:00:00Z");

/** `entries` entries, spread over every failure kind and drifted, as a large broken set would be. */
function brokenSet(entries: number): FleetSource {
  const failing: Partial<Record<FailureKind, number>> = {};
  const drifted: Array<{ image: string; since: number }> = [];
  for (let i = 0; i < entries; i += 1) {
    if (i % 2 === 0) drifted.push({ image: `registry.example/team/app-${i}:v1`, since: T0 + i * 1000 });
    else {
      const kind = FAILURE_KINDS[i % FAILURE_KINDS.length] as FailureKind;
      failing[kind] = (failing[kind] ?? 0) + 1;
    }
  }
  const faults: EntryFaults = { failing, drifted };
  return {
    generationTimes: () => ({ startedAt: T0, warmAt: null }),
    faults: () => faults,
    pinReasons: () => ({ pinned: entries / 2, budget: entries / 2 }),
    diskThreshold: 0.8,
    imageFilesystemUse: () => Promise.resolve(0.42),
  };
}

const overview = (total: number): StatusOverview => ({
  warm: false,
  summary: {
    ...Object.fromEntries(ENTRY_STATES.map((s) => [s, 0])),
    failed: total,
    total,
  } as StatusOverview["summary"],
  runtime: {
    endpoint: "unix:///run/containerd/containerd.sock",
    reachable: true,
    lastContactAt: null,
    error: null,
    name: "containerd",
    version: "2.1.9",
    apiVersion: "v1",
    support: null,
  },
  pins: { available: true, reason: null, count: 1, bytes: 1, budgetBytes: 2 },
});

/** Sample lines of one scrape: `name{labels} value`. */
async function samples(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

describe("the fleet metrics", () => {
  it("report rollout times, failures by kind, drift, pin decisions and the disk guard", async () => {
    const registry = new Registry();
    const source = brokenSet(6);
    registerFleetMetrics(registry, {
      ...source,
      generationTimes: () => ({ startedAt: T0, warmAt: T0 + 90_500 }),
    });
    const lines = await samples(registry);
    expect(lines).toContain(`prepull_generation_start_timestamp_seconds ${T0 / 1000}`);
    expect(lines).toContain(`prepull_generation_warm_timestamp_seconds ${T0 / 1000 + 90.5}`);
    // Indexes 1, 3, 5 fail: kinds auth, tls, rate_limited; every other kind is there at 0.
    expect(lines.filter((l) => l.startsWith("prepull_failing_entries{"))).toHaveLength(FAILURE_KINDS.length);
    expect(lines).toContain('prepull_failing_entries{kind="auth"} 1');
    expect(lines).toContain('prepull_failing_entries{kind="not_found"} 0');
    expect(lines).toContain("prepull_drifted_entries 3");
    expect(lines).toContain(
      `prepull_drifted_since_timestamp_seconds{image="registry.example/team/app-2:v1"} ${T0 / 1000 + 2}`,
    );
    expect(lines.filter((l) => l.startsWith("prepull_pin_entries{"))).toHaveLength(PIN_REASONS.length);
    expect(lines).toContain('prepull_pin_entries{reason="budget"} 3');
    expect(lines).toContain('prepull_pin_entries{reason="opted-out"} 0');
    expect(lines).toContain("prepull_disk_guard_threshold_ratio 0.8");
    expect(lines).toContain("prepull_disk_guard_active 1");
    expect(lines).toContain("prepull_image_filesystem_used_ratio 0.42");
  });

  it("say the node was never warm with 0, and the guard off with 0s", async () => {
    const registry = new Registry();
    registerFleetMetrics(registry, { ...brokenSet(0), imageFilesystemUse: () => Promise.resolve(undefined) });
    const lines = await samples(registry);
    expect(lines).toContain("prepull_generation_warm_timestamp_seconds 0");
    expect(lines).toContain("prepull_disk_guard_active 0");
    expect(lines).toContain("prepull_image_filesystem_used_ratio 0");
    expect(lines).toContain("prepull_drifted_entries 0");
    expect(lines.some((l) => l.startsWith("prepull_drifted_since_timestamp_seconds"))).toBe(false);
  });

  it("show the longest drifted images, one series per image, and drop those that are no longer drifted", async () => {
    let drifted = [
      { image: "r.example/a:1", since: T0 + 5_000 },
      { image: "r.example/a:1", since: T0 + 9_000 },
      { image: "r.example/b:1", since: T0 + 7_000 },
    ];
    const registry = new Registry();
    registerFleetMetrics(registry, { ...brokenSet(0), faults: () => ({ failing: {}, drifted }) });
    const drift = async () =>
      (await samples(registry)).filter((l) => l.startsWith("prepull_drifted_since_timestamp_seconds"));
    expect(await drift()).toEqual([
      `prepull_drifted_since_timestamp_seconds{image="r.example/a:1"} ${T0 / 1000 + 5}`,
      `prepull_drifted_since_timestamp_seconds{image="r.example/b:1"} ${T0 / 1000 + 7}`,
    ]);
    drifted = drifted.slice(2);
    expect(await drift()).toEqual([
      `prepull_drifted_since_timestamp_seconds{image="r.example/b:1"} ${T0 / 1000 + 7}`,
    ]);
  });

  it("keep an agent's series count the same for 10 and 1,000 broken entries, but for the capped drift series", async () => {
    const count = async (entries: number) => {
      const metrics = createAgentMetrics({ status: () => overview(entries) }, brokenSet(entries));
      const lines = await samples(metrics.registry);
      return {
        prepull: lines.filter((l) => l.startsWith("prepull_")).length,
        drift: lines.filter((l) => l.startsWith("prepull_drifted_since_timestamp_seconds")).length,
      };
    };
    const small = await count(10);
    const large = await count(1_000);
    expect(small.drift).toBe(5);
    expect(large.drift).toBe(DRIFT_SERIES_LIMIT);
    expect(large.prepull - large.drift).toBe(small.prepull - small.drift);
  });

  it("count failed and blocked attempts by kind, every kind from 0", async () => {
    const metrics = createAgentMetrics({ status: () => overview(1) });
    const attempt = (outcome: "failed" | "blocked" | "drifted", errorKind?: FailureKind) => {
      metrics.events.onPull?.({
        image: "r.example/a:1",
        outcome,
        digest: undefined,
        imageId: undefined,
        size: undefined,
        seconds: 0.1,
        pulls: [],
        errorKind,
        message: undefined,
        registryDigest: undefined,
        source: undefined,
      });
    };
    const before = await samples(metrics.registry);
    expect(before.filter((l) => l.startsWith("prepull_pull_failures_total{"))).toHaveLength(
      FAILURE_KINDS.length,
    );
    attempt("failed", "not_found");
    attempt("failed", "not_found");
    attempt("blocked", "disk");
    attempt("drifted");
    const lines = await samples(metrics.registry);
    expect(lines).toContain('prepull_pull_failures_total{kind="not_found"} 2');
    expect(lines).toContain('prepull_pull_failures_total{kind="disk"} 1');
    expect(lines).toContain('prepull_pull_failures_total{kind="auth"} 0');
  });

  it("leave out prom-client's gauges named like counters", async () => {
    const metrics = createAgentMetrics({ status: () => overview(1) });
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/^nodejs_active_\w+_total/m);
    expect(text).toMatch(/^nodejs_active_handles\{/m);
  });
});
