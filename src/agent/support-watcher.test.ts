import { describe, expect, it } from "vitest";
import { supportWatcher } from "./support-watcher.ts";

function recorder(): { warnings: unknown[][]; warn: (...args: unknown[]) => void } {
  const warnings: unknown[][] = [];
  return { warnings, warn: (...args: unknown[]) => warnings.push(args) };
}

describe("supportWatcher", () => {
  it("knows nothing while the runtime has not said its name and version", () => {
    const logger = recorder();
    const supportOf = supportWatcher(logger);
    expect(supportOf(null, null)).toBeNull();
    expect(supportOf("containerd", null)).toBeNull();
    expect(logger.warnings).toEqual([]);
  });

  it("says nothing of a supported version", () => {
    const logger = recorder();
    expect(supportWatcher(logger)("containerd", "v2.1.4")?.level).toBe("supported");
    expect(logger.warnings).toEqual([]);
  });

  it("warns once per version that has a note, and again when the version changes", () => {
    const logger = recorder();
    const supportOf = supportWatcher(logger);
    const first = supportOf("cri-o", "1.30.0");
    expect(first?.level).toBe("untested");
    expect(supportOf("cri-o", "1.30.0")).toBe(first);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]?.[0]).toEqual({ runtime: "cri-o 1.30.0", support: "untested" });
    expect(supportOf("containerd", "1.5.0")?.level).toBe("end_of_life");
    expect(logger.warnings).toHaveLength(2);
  });
});
