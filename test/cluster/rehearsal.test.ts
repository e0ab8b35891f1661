import { lookup } from "node:dns/promises";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentProcess, type AgentProcess } from "../agent/agent-process.ts";
import { ConfigMapVolume, imageSetYaml } from "../agent/config-map.ts";
import { runPrepull } from "../cli/run-prepull.ts";
import { pushImage, startContainerd, startRegistry, type ContainerdInstance } from "../sandbox/index.ts";
import type { RegistryInstance } from "../sandbox/index.ts";
import { freePort } from "../sandbox/processes.ts";

// A cluster rehearsal on one machine: every "node" is a real containerd with its own agent, all
// fed by one ConfigMap-style volume and one registry, and `prepull wait` is the barrier.
let registry: RegistryInstance;
let volume: ConfigMapVolume;
const nodes: Array<{ containerd: ContainerdInstance; agent: AgentProcess; name: string }> = [];

interface WaitJson {
  done: boolean;
  timedOut: boolean;
  nodes: Array<{
    node: string | null;
    agent: string;
    state: string;
    reason: string;
    present: number;
    total: number;
  }>;
}

async function startNode(name: string, options: { brokenRegistry?: boolean } = {}) {
  const containerd = await startContainerd();
  const args = ["--config", volume.dir, "--runtime-endpoint", containerd.endpoint, "--node-name", name];
  if (options.brokenRegistry === true) {
    // This node's runtime and agent reach the registry through a mirror that does not answer.
    const hostDir = join(containerd.certsDir, registry.host);
    await mkdir(hostDir, { recursive: true });
    const dead = `http://127.0.0.1:${String(await freePort())}`;
    await writeFile(
      join(hostDir, "hosts.toml"),
      `server = "${dead}"\n\n[host."${dead}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    args.push("--registry-hosts-dir", containerd.certsDir);
  }
  const agent = await startAgentProcess([...args, "--resync", "2s"]);
  nodes.push({ containerd, agent, name });
  return { containerd, agent };
}

const address = (agent: AgentProcess): string => agent.url.replace(/^http:\/\//, "");

beforeAll(async () => {
  registry = await startRegistry();
  const images = await Promise.all(
    ["web", "api", "worker"].map((name, i) =>
      pushImage(registry, {
        repository: `rehearsal/${name}`,
        tag: "2.0",
        layers: [{ size: 4096, seed: name }],
      }).then((image) => (i === 0 ? image.reference : { image: image.reference, digest: image.digest })),
    ),
  );
  volume = await ConfigMapVolume.create({ "web-tier.yaml": imageSetYaml("web-tier", images) });
  await Promise.all(["node-1", "node-2", "node-3"].map((name) => startNode(name)));
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map(({ agent }) => agent.stop("SIGKILL")));
  await Promise.all([...nodes.map(({ containerd }) => containerd.stop()), registry.stop(), volume.remove()]);
});

describe("a three-node rehearsal with prepull wait as the barrier", () => {
  it("returns 0 once all three nodes are warm for the generation of the applied ImageSet", async () => {
    const agents = nodes.map(({ agent }) => address(agent)).join(",");
    const run = await runPrepull([
      "wait",
      "--agents",
      agents,
      "--config",
      volume.dir,
      "--timeout",
      "90s",
      "--interval",
      "300ms",
      "-o",
      "json",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as WaitJson;
    expect(result.done).toBe(true);
    expect(result.nodes.map((node) => [node.node, node.state, node.present, node.total]).sort()).toEqual([
      ["node-1", "warm", 3, 3],
      ["node-2", "warm", 3, 3],
      ["node-3", "warm", 3, 3],
    ]);
    const generations = await Promise.all(nodes.map(async ({ agent }) => (await agent.status()).generation));
    expect(new Set(generations).size).toBe(1);

    const text = await runPrepull(["wait", "--agents", agents, "--image", "127.0.0.1:1/none:1", "-t", "1s"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/node-1 \(127\.0\.0\.1:\d+\): waiting: .*none:1: not-in-set/);
  }, 120_000);

  it("finds the agents behind a DNS name and counts an unresolvable one as not warm", async () => {
    const first = nodes[0];
    if (first === undefined) throw new Error("no node started");
    const port = new URL(first.agent.url).port;
    const resolved = (await lookup("localhost", { all: true })).filter((record) => record.family === 4);
    const run = await runPrepull(["wait", "--agents-dns", `localhost:${port}`, "-t", "20s", "-o", "json"]);
    const result = JSON.parse(run.stdout) as WaitJson;
    expect(result.nodes.map((node) => node.agent)).toEqual(
      expect.arrayContaining(resolved.map((record) => `${record.address}:${port}`)),
    );
    expect(run.code).toBe(0);

    const missing = await runPrepull(["wait", "--agents-dns", "agents.prepull.invalid:8080", "-t", "1s"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("agents.prepull.invalid:8080: unreachable: does not resolve");
  }, 60_000);

  it("times out naming a fourth node whose registry access is broken, and why", async () => {
    const { agent } = await startNode("node-4", { brokenRegistry: true });
    await agent.waitFor(
      (s) => s.entries.some((e) => e.state === "failed"),
      "a failed entry on node-4",
      60_000,
    );
    const run = await runPrepull([
      "wait",
      "--agents",
      nodes.map((node) => address(node.agent)).join(","),
      "--timeout",
      "3s",
      "--interval",
      "500ms",
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/timed out after [\d.]+ ?s: 3\/4 agents warm/);
    const report = run.stdout.slice(run.stdout.indexOf("\n\n"));
    expect(report).toMatch(/node-4 \(127\.0\.0\.1:\d+\): waiting: .*\(network\)/);
    // Network failures are retried after 2 s, so the last poll may catch an entry failed, or
    // pending or pulling again with the kind of its last failure.
    expect(report).toMatch(/rehearsal\/\w+:2\.0: (failed|pending|pulling) \(network\)/);
    expect(report).not.toMatch(/node-[123] \(/);
    expect(run.stderr).toContain("3/4 agents warm");
  }, 120_000);
});
