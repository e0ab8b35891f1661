import { describe, expect, it } from "vitest";
import { parseTaint } from "./gate-options.ts";

describe("parseTaint", () => {
  it("reads KEY and KEY:EFFECT as kubelet's --register-with-taints writes them", () => {
    expect(parseTaint("example.com/images-warm")).toEqual({ key: "example.com/images-warm" });
    expect(parseTaint("example.com/images-warm:NoSchedule")).toEqual({
      key: "example.com/images-warm",
      effect: "NoSchedule",
    });
    expect(parseTaint("startup-taint.cluster-autoscaler.kubernetes.io/prepull:NoExecute").effect).toBe(
      "NoExecute",
    );
  });

  it.each([
    ["", "expected KEY[:EFFECT]"],
    ["Bad Key", "expected KEY[:EFFECT]"],
    ["a/b/c", "expected KEY[:EFFECT]"],
    ["example.com/x:NoSchedule:more", "expected KEY[:EFFECT]"],
    [
      "example.com/x:Sometimes",
      'the taint\'s effect must be one of NoSchedule, PreferNoSchedule, NoExecute, not "Sometimes"',
    ],
  ])("refuses %j", (value, message) => {
    expect(() => parseTaint(value)).toThrow(message);
  });
});
