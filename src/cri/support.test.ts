import { describe, expect, it } from "vitest";
import { runtimeSupport } from "./support.ts";

const today = new Date("2026-12-01");

describe("runtimeSupport", () => {
  it("supports containerd 2.1 and later with pins and artifacts", () => {
    expect(runtimeSupport("containerd", "v2.1.9", today)).toEqual({
      level: "supported",
      note: null,
      pinning: true,
      artifacts: true,
      imports: true,
    });
    expect(runtimeSupport("containerd", "2.2.0", today).level).toBe("supported");
  });

  it("says containerd 1.6 is past its end of life and lacks pins, artifacts and imports", () => {
    const support = runtimeSupport("containerd", "1.6.20~ds1", today);
    expect(support).toMatchObject({ level: "end_of_life", pinning: false, artifacts: false });
    expect(support.note).toBe(
      "containerd 1.6 reached end of life on 2025-08-23; upgrade to containerd 2.x (this version lacks pins, OCI artifacts and bundle imports)",
    );
  });

  it("counts 1.7 as supported until its end of life, then pins only", () => {
    expect(runtimeSupport("containerd", "1.7.24", new Date("2026-06-01")).level).toBe("supported");
    const ended = runtimeSupport("containerd", "1.7.24", today);
    expect(ended).toMatchObject({ level: "end_of_life", pinning: true, artifacts: false });
    expect(ended.note).toContain("lacks OCI artifacts");
  });

  it("treats any other runtime as CRI-only and untested", () => {
    const support = runtimeSupport("cri-o", "1.33.0", today);
    expect(support).toMatchObject({ level: "untested", pinning: false, artifacts: false });
    expect(support.note).toContain("not tested");
  });

  it("treats containerd older than 1.6 as past its end of life", () => {
    expect(runtimeSupport("containerd", "1.5.18", today).level).toBe("end_of_life");
  });
});
