import { Gauge, type Registry } from "prom-client";
import { FAILURE_KINDS } from "../failure/index.ts";
import type { EntryFaults, GenerationTimes, PinReason } from "../warm/index.ts";

/** Every pin decision, so each has a series (0 included) from the first scrape on. */
export const PIN_REASONS: readonly PinReason[] = [
  "pinned",
  "pinned-elsewhere",
  "budget",
  "opted-out",
  "absent",
];

/**
 * Drifted entries get a series each, labelled with the image: at most this many per agent (the
 * longest drifted), so that a registry that moved every tag at once cannot flood Prometheus.
 * `prepull_drifted_entries` still counts them all.
 */
export const DRIFT_SERIES_LIMIT = 20;

/** What the fleet dashboard and alerts read from an agent besides its status overview. */
export interface FleetSource {
  generationTimes(): GenerationTimes;
  faults(): EntryFaults;
  pinReasons(): Readonly<Partial<Record<PinReason, number>>>;
  /** `--disk-threshold` as 0..1. */
  readonly diskThreshold: number;
  /** The image filesystem's used share; undefined while it is not visible (the guard is off). */
  imageFilesystemUse(): Promise<number | undefined>;
}

const seconds = (epochMs: number): number => epochMs / 1000;

/**
 * Gauges for rollouts, failures, drift, pins and the disk guard, read at scrape time. Labels are
 * bounded: failure kinds and pin decisions are fixed lists; only the drift series carry an image,
 * and there are at most DRIFT_SERIES_LIMIT of them.
 */
export function registerFleetMetrics(registry: Registry, source: FleetSource): void {
  const registers = [registry];
  new Gauge({
    name: "prepull_generation_start_timestamp_seconds",
    help: "Unix time the generation in force took force on this agent (at start or on a reload).",
    registers,
    collect() {
      this.set(seconds(source.generationTimes().startedAt));
    },
  });
  new Gauge({
    name: "prepull_generation_warm_timestamp_seconds",
    help: "Unix time this agent was first warm at the generation in force; 0 until it has been.",
    registers,
    collect() {
      const { warmAt } = source.generationTimes();
      this.set(warmAt === null ? 0 : seconds(warmAt));
    },
  });
  new Gauge({
    name: "prepull_failing_entries",
    help: "Entries whose last attempt failed or was blocked, by failure kind; kept through retries until present.",
    labelNames: ["kind"],
    registers,
    collect() {
      const { failing } = source.faults();
      for (const kind of FAILURE_KINDS) this.set({ kind }, failing[kind] ?? 0);
    },
  });
  new Gauge({
    name: "prepull_drifted_entries",
    help: "Entries whose tag points elsewhere than their intended digest in the registry; kept through re-checks.",
    registers,
    collect() {
      this.set(source.faults().drifted.length);
    },
  });
  new Gauge({
    name: "prepull_drifted_since_timestamp_seconds",
    help: `Unix time each drifted entry was first found drifted, by image; the ${DRIFT_SERIES_LIMIT} longest drifted.`,
    labelNames: ["image"],
    registers,
    collect() {
      this.reset();
      const shown = new Set<string>();
      for (const { image, since } of source.faults().drifted) {
        // Two entries of one image (other digests): the longer drift, which comes first, stands.
        if (shown.has(image)) continue;
        this.set({ image }, seconds(since));
        shown.add(image);
        if (shown.size === DRIFT_SERIES_LIMIT) break;
      }
    },
  });
  new Gauge({
    name: "prepull_pin_entries",
    help: "Entries by the last pin pass's decision; budget means kept warm unpinned because the pin budget is full.",
    labelNames: ["reason"],
    registers,
    collect() {
      const reasons = source.pinReasons();
      for (const reason of PIN_REASONS) this.set({ reason }, reasons[reason] ?? 0);
    },
  });
  new Gauge({
    name: "prepull_disk_guard_threshold_ratio",
    help: "Share of the image filesystem above which the disk guard blocks pulls (--disk-threshold).",
    registers,
    collect() {
      this.set(source.diskThreshold);
    },
  });
  // Gauges of one scrape are collected concurrently: each reads the filesystem itself (a statfs).
  new Gauge({
    name: "prepull_disk_guard_active",
    help: "1 when the disk guard can read the image filesystem; 0 when it is not mounted and pulls go unguarded.",
    registers,
    async collect() {
      this.set((await source.imageFilesystemUse()) === undefined ? 0 : 1);
    },
  });
  new Gauge({
    name: "prepull_image_filesystem_used_ratio",
    help: "Share of the image filesystem in use as the disk guard reads it; 0 while the guard is off.",
    registers,
    async collect() {
      this.set((await source.imageFilesystemUse()) ?? 0);
    },
  });
}
