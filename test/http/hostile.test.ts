import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentStatusSchema } from "../../src/agent-status/index.ts";
import { startAgentProcess, type AgentProcess } from "../agent/agent-process.ts";
import { ConfigMapVolume, imageSetYaml } from "../agent/config-map.ts";
import { pushImage, startContainerd, startRegistry, type ContainerdInstance } from "../sandbox/index.ts";
import type { RegistryInstance } from "../sandbox/index.ts";
import {
  loopbackAddresses,
  pipelineWithoutReading,
  probeWhile,
  slowHeaderClients,
  type ProbeResult,
  type SlowClientReport,
} from "./attacks.ts";

// The real agent, on a real containerd and registry, under hostile clients on loopback. Its
// heap is capped so that unbounded buffering kills it instead of only slowing the machine.
const HEAP_MB = 128;
const ENTRIES = 1_000;
let registry: RegistryInstance;
let containerd: ContainerdInstance;
let volume: ConfigMapVolume;
let agent: AgentProcess;
let port: number;

beforeAll(async () => {
  [registry, containerd] = await Promise.all([startRegistry(), startContainerd()]);
  const present = await pushImage(registry, { repository: "hostile/app", tag: "1.0" });
  // One image that gets pulled, and many whose tags the registry does not have (failed,
  // not_found, retried slowly): a status document of a realistic size that keeps changing.
  const missing = Array.from(
    { length: ENTRIES - 1 },
    (_, i) => `${registry.host}/hostile/missing-${String(i)}:1.0`,
  );
  volume = await ConfigMapVolume.create({
    "hostile.yaml": imageSetYaml("hostile", [
      { image: present.reference, digest: present.digest },
      ...missing,
    ]),
  });
  agent = await startAgentProcess(["--config", volume.dir, "--runtime-endpoint", containerd.endpoint], {
    NODE_OPTIONS: `--max-old-space-size=${String(HEAP_MB)}`,
  });
  port = Number(new URL(agent.url).port);
  await agent.waitFor((s) => s.summary.present === 1 && s.summary.failed > 0, "the set worked on", 90_000);
}, 120_000);

afterAll(async () => {
  await agent.stop("SIGKILL");
  await Promise.all([containerd.stop(), registry.stop(), volume.remove()]);
});

function failures(results: readonly ProbeResult[]): ProbeResult[] {
  return results.filter((result) => !("status" in result) || result.status !== 200);
}

async function metric(name: string): Promise<number> {
  const { body } = await agent.get("/metrics");
  const line = body.split("\n").find((l) => l.startsWith(name));
  return Number(line?.split(" ").at(-1) ?? Number.NaN);
}

/**
 * The agent is still the same process, healthy, serves a status the contract accepts, and has
 * let go of everything the attack made it hold: connections (but the one asking) and answers.
 */
async function expectUnharmed(): Promise<void> {
  expect(agent.child.exitCode).toBeNull();
  expect(agent.child.signalCode).toBeNull();
  expect((await agent.get("/healthz")).status).toBe(200);
  const status = agentStatusSchema.parse(await agent.status());
  expect(status.summary.total).toBe(ENTRIES);
  await expect.poll(() => metric("prepull_http_connections"), { timeout: 15_000 }).toBe(1);
  await expect.poll(() => metric("prepull_http_buffered_bytes"), { timeout: 15_000 }).toBe(0);
}

describe("the agent's HTTP face under hostile clients", () => {
  it("keeps answering probes while one client holds 64 connections sending a header byte every 2 s", async () => {
    const attack = slowHeaderClients({
      port,
      addresses: loopbackAddresses(1),
      perAddress: 64,
      byteEveryMs: 2_000,
      durationMs: 12_000,
    });
    const probes = await probeWhile(`${agent.url}/healthz`, 250, attack);
    const { closedByServer, stillOpen } = await attack;
    expect(probes.length).toBeGreaterThan(20);
    expect(failures(probes)).toEqual([]);
    // Connections past the client's share are refused at once; the headers timeout (5 s) closes
    // the rest within about a second of expiring, not on Node's 30 s check cycle.
    expect(await metric('prepull_http_refused_total{reason="per_client"}')).toBeGreaterThan(0);
    expect(closedByServer.filter((ms) => ms >= 4_000).length).toBeGreaterThan(0);
    expect(Math.max(...closedByServer, ...stillOpen)).toBeLessThan(9_000);
    await expectUnharmed();
  }, 60_000);

  it("keeps answering probes while 24 clients together hold more connections than the server takes", async () => {
    const attack = slowHeaderClients({
      port,
      addresses: loopbackAddresses(24, 10),
      perAddress: 16,
      byteEveryMs: 1_000,
      durationMs: 10_000,
    });
    const probes = await probeWhile(`${agent.url}/healthz`, 250, attack);
    await attack;
    expect(failures(probes)).toEqual([]);
    expect(await metric('prepull_http_refused_total{reason="capacity"}')).toBeGreaterThan(0);
    await expectUnharmed();
  }, 60_000);

  it.each([64, 200])(
    "answers every probe on the probe port while %i slow connections from the prober's own address hold it and as many the main port",
    async (count) => {
      expect(agent.probeUrl, "the agent reported no probe port").toBeDefined();
      const probeUrl = agent.probeUrl ?? "";
      const slowClients = (target: number): Promise<SlowClientReport> =>
        slowHeaderClients({
          port: target,
          addresses: ["127.0.0.1"],
          perAddress: count,
          byteEveryMs: 1_000,
          durationMs: 12_000,
        });
      const attacks = Promise.all([slowClients(Number(new URL(probeUrl).port)), slowClients(port)]);
      const probes = await Promise.all([
        probeWhile(`${probeUrl}/healthz`, 100, attacks),
        probeWhile(`${probeUrl}/readyz`, 250, attacks),
      ]);
      const [onProbePort] = await attacks;
      expect(probes.flat().length).toBeGreaterThan(100);
      expect(failures(probes.flat())).toEqual([]);
      // The probe port closed them, the oldest first for a newcomer past its 64 connections, the
      // rest by its headers timeout (2 s); none was left open long.
      expect(onProbePort.opened).toBeGreaterThanOrEqual(count * 2);
      expect(Math.max(...onProbePort.closedByServer, ...onProbePort.stillOpen)).toBeLessThan(6_000);
      if (count > 64)
        expect(await metric('prepull_http_refused_total{reason="probe_capacity"}')).toBeGreaterThan(0);
      await expectUnharmed();
      await expect.poll(() => metric("prepull_http_probe_connections"), { timeout: 15_000 }).toBe(0);
    },
    60_000,
  );

  it("survives 10,000 pipelined GET /v1/status?pretty it never gets to answer, under a capped heap", async () => {
    const { closedByServer, answers } = await pipelineWithoutReading(
      port,
      "/v1/status?pretty",
      10_000,
      5_000,
    );
    await expectUnharmed();
    // It answered the first few and then hung up on the rest.
    expect(closedByServer).toBe(true);
    expect(answers).toBeLessThanOrEqual(8);
    expect(await metric('prepull_http_refused_total{reason="pipelined"}')).toBeGreaterThan(0);
  }, 60_000);
});
