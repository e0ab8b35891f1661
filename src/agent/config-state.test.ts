import { describe, expect, it } from "vitest";
import { desiredStateFromImages, type DesiredState } from "../imageset/index.ts";
import { entryKey } from "../warm/index.ts";
import { ConfigState, reloadHandlers } from "./config-state.ts";

/** A set of two images: `app:1` opted out of pinning, `tool:1` of the gate. */
function twoImages(): DesiredState {
  const base = desiredStateFromImages(["reg.example/app:1", "reg.example/tool:1"]);
  const [app, tool] = base.entries;
  if (app === undefined || tool === undefined) throw new Error("two entries expected");
  return {
    ...base,
    entries: [
      { ...app, pin: false },
      { ...tool, gate: false },
    ],
  };
}

function recorder(): { calls: string[]; targets: Parameters<typeof reloadHandlers>[0] } & {
  config: ConfigState;
} {
  const calls: string[] = [];
  const config = new ConfigState(desiredStateFromImages(["reg.example/first:1"]));
  return {
    calls,
    config,
    targets: {
      config,
      metrics: {
        configReloaded: (generation) => calls.push(`reloaded ${generation}`),
        configFailed: () => calls.push("failed"),
      },
      logger: {
        info: (_fields, message) => calls.push(`info ${message ?? ""}`),
        error: (_fields, message) => calls.push(`error ${message ?? ""}`),
      },
      setDesired: (next) => calls.push(`desired ${next.generation}`),
    },
  };
}

describe("ConfigState", () => {
  it("derives the opted-out and ungated keys from the set", () => {
    const desired = twoImages();
    const config = new ConfigState(desired);
    const [app, tool] = desired.entries.map(entryKey);
    expect(config.desired).toBe(desired);
    expect([...config.optedOut]).toEqual([app]);
    expect([...config.ungated]).toEqual([tool]);
    expect(config.error).toBeNull();
  });

  it("keeps a refused version's error until a good one is read", () => {
    const config = new ConfigState(desiredStateFromImages(["reg.example/app:1"]));
    config.failed("bad file", new Date("2025-01-02T03:04:05Z"));
    expect(config.error).toEqual({ message: "bad file", at: "2025-01-02T03:04:05.000Z" });
    const next = twoImages();
    config.changed(next);
    expect(config.error).toBeNull();
    expect(config.desired).toBe(next);
    expect(config.optedOut.size).toBe(1);
    expect(config.ungated.size).toBe(1);
  });
});

describe("reloadHandlers", () => {
  it("puts a good new set in force: state, metric, log, then the scheduler", () => {
    const { calls, config, targets } = recorder();
    const next = twoImages();
    reloadHandlers(targets).onChange(next);
    expect(config.desired).toBe(next);
    expect(calls).toEqual([
      `reloaded ${next.generation}`,
      "info image set changed",
      `desired ${next.generation}`,
    ]);
  });

  it("reports a bad one and keeps the last good set", () => {
    const { calls, config, targets } = recorder();
    const before = config.desired;
    reloadHandlers(targets).onError(new Error("spec.images[0]: invalid"));
    expect(config.desired).toBe(before);
    expect(config.error?.message).toBe("spec.images[0]: invalid");
    expect(calls).toEqual(["failed", "error new image set is invalid; keeping the last good one"]);
  });
});
