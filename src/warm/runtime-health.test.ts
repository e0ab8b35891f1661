import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RECONNECT_BACKOFF, RuntimeHealth } from "./runtime-health.ts";

const ENDPOINT = "unix:///run/containerd/containerd.sock";
const VERSION = { runtimeName: "containerd", runtimeVersion: "2.1.9", runtimeApiVersion: "v1" };

describe("RuntimeHealth", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse("2026-01-01T00:00:00Z"));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const health = () => new RuntimeHealth({ endpoint: ENDPOINT, graceMs: 60_000, random: () => 1 });

  it("is healthy within the grace period before the runtime ever answers, then not", () => {
    const runtime = health();
    expect(runtime.health()).toEqual({ ok: true, reason: "runtime not reachable yet, within grace" });
    vi.advanceTimersByTime(60_001);
    expect(runtime.health()).toEqual({ ok: false, reason: `runtime ${ENDPOINT} unreachable for 60s` });
  });

  it("reports reachable with the version after an answer, and asks for the version only when news", () => {
    const runtime = health();
    expect(runtime.answered()).toBe(true);
    runtime.recordVersion(VERSION);
    expect(runtime.answered()).toBe(false);
    expect(runtime.status()).toEqual({
      endpoint: ENDPOINT,
      reachable: true,
      lastContactAt: "2026-01-01T00:00:00.000Z",
      error: null,
      name: "containerd",
      version: "2.1.9",
      apiVersion: "v1",
    });
    expect(runtime.health()).toEqual({ ok: true, reason: "runtime reachable" });
  });

  it("counts silence from the last answer, backs reconnection off, and recovers on the next answer", () => {
    const runtime = health();
    runtime.answered();
    runtime.recordVersion(VERSION);
    vi.advanceTimersByTime(10_000);
    expect(runtime.failed(new Error("connect ECONNREFUSED"))).toEqual({
      retryInMs: RECONNECT_BACKOFF.initialMs,
      news: true,
    });
    expect(runtime.failed(new Error("connect ECONNREFUSED"))).toEqual({
      retryInMs: 2 * RECONNECT_BACKOFF.initialMs,
      news: false,
    });
    expect(runtime.status()).toMatchObject({ reachable: false, error: "connect ECONNREFUSED" });
    vi.advanceTimersByTime(50_000);
    expect(runtime.health().ok).toBe(true);
    vi.advanceTimersByTime(1);
    expect(runtime.health()).toEqual({ ok: false, reason: `runtime ${ENDPOINT} unreachable for 60s` });
    expect(runtime.answered()).toBe(true);
    expect(runtime.health().ok).toBe(true);
    expect(runtime.failed("down again").retryInMs).toBe(RECONNECT_BACKOFF.initialMs);
  });
});
