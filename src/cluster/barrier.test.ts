import { describe, expect, it } from "vitest";
import { parseReference } from "../reference/index.ts";
import { judgeBarrier, judgeNode, type WaitTarget } from "./barrier.ts";
import { agent, DIGEST, entry, OTHER } from "./test-fixtures.ts";

const OWN: WaitTarget = { kind: "own" };

describe("judgeNode", () => {
  it("is warm when the agent says so and every entry is present", () => {
    expect(judgeNode(agent("a", [entry("nginx:1.27")]), OWN)).toMatchObject({
      state: "warm",
      present: 1,
      total: 1,
    });
  });

  it("waits while the first pass has not finished, even with nothing missing", () => {
    expect(judgeNode(agent("a", [entry("nginx:1.27")], { warm: false }), OWN).state).toBe("waiting");
  });

  it("counts an agent without an answer as unreachable, with the reason", () => {
    expect(judgeNode({ agent: "10.0.0.9:8080", error: "connection refused" }, OWN)).toMatchObject({
      state: "unreachable",
      reason: "connection refused",
    });
  });

  it("waits on transient failures and fails on those waiting will not fix", () => {
    const network = entry("nginx:1.27", "failed", { errorKind: "network", message: "reset" });
    expect(judgeNode(agent("a", [network]), OWN)).toMatchObject({ state: "waiting", present: 0 });
    for (const broken of [
      entry("nginx:1.27", "failed", { errorKind: "not_found" }),
      entry("nginx:1.27", "failed", { errorKind: "auth" }),
      entry("nginx:1.27", "failed", { errorKind: "unsupported" }),
      entry("nginx:1.27", "drifted"),
    ]) {
      expect(judgeNode(agent("a", [broken, entry("redis:7")]), OWN)).toMatchObject({
        state: "failed",
        present: 1,
        total: 2,
        missing: [expect.objectContaining({ image: "nginx:1.27" })],
      });
    }
    expect(judgeNode(agent("a", [entry("x:1", "blocked", { errorKind: "disk" })]), OWN).state).toBe(
      "waiting",
    );
  });

  it("fails on a config error and waits for a generation the agent has not reached", () => {
    const broken = agent("a", [entry("nginx:1.27")], {
      config: { error: { message: "set.yaml:3: bad", at: new Date(0).toISOString() } },
    });
    expect(judgeNode(broken, OWN)).toMatchObject({
      state: "failed",
      reason: "config error: set.yaml:3: bad",
    });
    const old = judgeNode(agent("a", [entry("nginx:1.27")]), { kind: "generation", generation: "g2" });
    expect(old.state).toBe("waiting");
    expect(old.reason).toContain("at generation g1, waiting for g2");
    expect(judgeNode(agent("a", [entry("nginx:1.27")]), { kind: "generation", generation: "g1" }).state).toBe(
      "warm",
    );
  });

  it("waits while the runtime is unreachable", () => {
    const down = agent("a", [entry("nginx:1.27")], { runtime: { reachable: false, error: "socket gone" } });
    expect(judgeNode(down, OWN)).toMatchObject({
      state: "waiting",
      reason: "runtime unreachable: socket gone",
    });
  });

  it("matches wanted images by canonical name, kubelet's default tag and digest", () => {
    const report = agent("a", [entry("nginx"), entry("ghcr.io/acme/api:2.0"), entry("redis:7", "pulling")]);
    const images = (...refs: string[]): WaitTarget => ({ kind: "images", images: refs.map(parseReference) });
    expect(
      judgeNode(report, images("docker.io/library/nginx:latest", `ghcr.io/acme/api@${DIGEST}`)).state,
    ).toBe("warm");
    expect(judgeNode(report, images(`ghcr.io/acme/api:2.0@${OTHER}`))).toMatchObject({
      state: "waiting",
      missing: [expect.objectContaining({ state: "not-in-set" })],
    });
    expect(judgeNode(report, images("nginx:1.27")).state).toBe("waiting");
    expect(judgeNode(report, images("redis:7"))).toMatchObject({ state: "waiting", present: 0, total: 1 });
  });
});

describe("judgeBarrier", () => {
  it("is done only when every agent is warm, sorted by node", () => {
    const verdict = judgeBarrier([agent("b", [entry("x:1")]), agent("a", [entry("x:1")])], OWN);
    expect(verdict).toMatchObject({ done: true, failed: false, reason: "2/2 agents warm" });
    expect(verdict.nodes.map((n) => n.node)).toEqual(["a", "b"]);
    const one = judgeBarrier([agent("a", [entry("x:1")]), { agent: "b:8080", error: "refused" }], OWN);
    expect(one).toMatchObject({ done: false, failed: false, reason: "1/2 agents warm" });
  });

  it("is not done for own generations that disagree, or with fewer agents than required", () => {
    const split = judgeBarrier(
      [agent("a", [entry("x:1")]), agent("b", [entry("x:1")], { generation: "g2" })],
      OWN,
    );
    expect(split.done).toBe(false);
    expect(split.reason).toContain("2 different generations");
    const few = judgeBarrier([agent("a", [entry("x:1")])], OWN, { minAgents: 3 });
    expect(few).toMatchObject({ done: false, reason: "1/1 agents warm, waiting for at least 3 agents" });
    expect(judgeBarrier([], OWN).done).toBe(false);
    const named = judgeBarrier([agent("a", [entry("x:1")])], OWN, {
      minAgents: 2,
      minAgentsSource: "DaemonSet p/a is scheduled on 2 nodes",
    });
    expect(named.reason).toBe(
      "1/1 agents warm, waiting for at least 2 agents (DaemonSet p/a is scheduled on 2 nodes)",
    );
  });

  it("fails as soon as one node fails for good", () => {
    const verdict = judgeBarrier(
      [agent("a", [entry("x:1")]), agent("b", [entry("x:1", "failed", { errorKind: "not_found" })])],
      OWN,
    );
    expect(verdict).toMatchObject({ done: false, failed: true });
  });
});
