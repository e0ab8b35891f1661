import { describe, expect, it } from "vitest";
import { parseDaemonSetName } from "./daemonset.ts";

describe("parseDaemonSetName", () => {
  it("reads NAME and NAMESPACE/NAME", () => {
    expect(parseDaemonSetName("prepull-agent")).toEqual({ name: "prepull-agent" });
    expect(parseDaemonSetName(" prepull/prepull-agent ")).toEqual({
      namespace: "prepull",
      name: "prepull-agent",
    });
    expect(parseDaemonSetName("kube-system/agent.v2")).toEqual({
      namespace: "kube-system",
      name: "agent.v2",
    });
  });

  it.each(["", "a/b/c", "Prepull/agent", "prepull/", "/agent", "ns.with.dots/agent", "agent_1", "-agent"])(
    "refuses %j, naming it",
    (text) => {
      expect(() => parseDaemonSetName(text)).toThrow(`invalid DaemonSet "${text}"`);
    },
  );
});
