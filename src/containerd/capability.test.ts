import { describe, expect, it } from "vitest";
import { pinningSupport } from "./capability.ts";

describe("pinningSupport", () => {
  it("is available from containerd 1.7 on, as its version service and Debian spell versions", () => {
    for (const version of ["1.7.0", "1.7.24~ds1", "v2.1.9", "2.1.9+unknown", "10.0.0"]) {
      expect(pinningSupport(version)).toEqual({ available: true });
    }
  });

  it("says why not on 1.6 and on a version it cannot read", () => {
    expect(pinningSupport("1.6.20~ds1")).toEqual({
      available: false,
      reason:
        "containerd 1.6.20~ds1 ignores the io.cri-containerd.pinned label (pins need containerd 1.7 or later)",
    });
    expect(pinningSupport("dev")).toMatchObject({ available: false });
    expect(JSON.stringify(pinningSupport("dev"))).toMatch(/cannot read/);
  });
});
