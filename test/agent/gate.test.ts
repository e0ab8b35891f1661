import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  pushImage,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type PushedImage,
  type RegistryInstance,
} from "../sandbox/index.ts";
import { startAgentProcess, type AgentProcess } from "./agent-process.ts";
import { ConfigMapVolume, imageSetYaml } from "./config-map.ts";

// The readiness gate of a real agent on a real containerd: what /v1/gate, /v1/status and the
// metrics say while the node warms, when an entry cannot be pulled, and at the deadline.
let containerd: ContainerdInstance;
let registry: RegistryInstance;
let app: PushedImage;
const started: Array<{ agent: AgentProcess; volume: ConfigMapVolume }> = [];

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  app = await pushImage(registry, {
    repository: "gate/app",
    tag: "1",
    layers: [{ size: 4096, seed: "gate" }],
  });
});

afterAll(async () => {
  for (const { agent, volume } of started) {
    await agent.stop("SIGKILL");
    await volume.remove();
  }
  await Promise.all([containerd.stop(), registry.stop()]);
});

async function agentWith(files: Record<string, string>, flags: string[]): Promise<AgentProcess> {
  const volume = await ConfigMapVolume.create(files);
  const agent = await startAgentProcess([
    "--config",
    volume.dir,
    "--runtime-endpoint",
    containerd.endpoint,
    "--node-name",
    "node-gate",
    "--resync",
    "1s",
    ...flags,
  ]);
  started.push({ agent, volume });
  return agent;
}

const metric = (body: string, name: string): number =>
  Number(new RegExp(`^${name} (\\S+)$`, "m").exec(body)?.[1] ?? NaN);

describe("the readiness gate of a real agent", { timeout: 120_000 }, () => {
  it("opens once the gated images are warm; a set with spec.gate: false does not hold it", async () => {
    const optional = imageSetYaml("optional", [`${registry.host}/gate/absent:1`]).replace(
      "spec:\n",
      "spec:\n  gate: false\n",
    );
    const agent = await agentWith(
      { "app.yaml": imageSetYaml("app", [app.reference]), "optional.yaml": optional },
      ["--gate-deadline", "0"],
    );
    const status = await agent.waitFor((s) => s.gate?.open === true, "the gate to open");
    expect(status.gate).toMatchObject({ open: true, reason: "ImagesWarm", message: "1/1 gated images warm" });
    expect(status.gate?.deadlineAt).toBeNull();
    // The ungated entry failed, and does not matter.
    expect(status.entries.find((e) => e.image.endsWith("/gate/absent:1"))?.state).toBe("failed");
    const gate = await agent.get("/v1/gate");
    expect(gate).toEqual({ status: 200, body: "open: ImagesWarm: 1/1 gated images warm\n" });
    const metrics = (await agent.get("/metrics")).body;
    expect(metric(metrics, "prepull_gate_open")).toBe(1);
    expect(metric(metrics, "prepull_gate_open_delay_seconds_count")).toBe(1);
    expect(metric(metrics, "prepull_gate_deadline_exceeded")).toBe(0);
  });

  it("stays closed naming the entry that cannot be pulled, then opens at the deadline when told to", async () => {
    const missing = `${registry.host}/gate/missing:1`;
    const agent = await agentWith({ "set.yaml": imageSetYaml("app", [app.reference, missing]) }, [
      "--gate-deadline",
      "6s",
      "--gate-at-deadline",
      "open",
    ]);
    const closed = await agent.waitFor(
      (s) => s.gate?.reason === "ImagesFailing",
      "the gate to name the failing entry",
    );
    expect(closed.gate?.open).toBe(false);
    expect(closed.gate?.message).toBe(`1/2 gated images warm; ${missing} failed (not_found)`);
    expect((await agent.get("/v1/gate")).status).toBe(503);
    const opened = await agent.waitFor((s) => s.gate?.open === true, "the deadline to open the gate");
    expect(opened.gate).toMatchObject({
      reason: "DeadlineOpened",
      message: `opened at the deadline, not warm: 1/2 gated images warm; ${missing} failed (not_found)`,
    });
    const metrics = (await agent.get("/metrics")).body;
    expect(metric(metrics, "prepull_gate_deadline_exceeded")).toBe(1);
    expect(metric(metrics, "prepull_gate_open")).toBe(1);
  });

  it("holds past the deadline when told to", async () => {
    const missing = `${registry.host}/gate/missing:2`;
    const agent = await agentWith({ "set.yaml": imageSetYaml("app", [missing]) }, [
      "--gate-deadline",
      "3s",
      "--gate-at-deadline",
      "hold",
    ]);
    const held = await agent.waitFor((s) => s.gate?.reason === "DeadlineHeld", "the gate to be held");
    expect(held.gate?.open).toBe(false);
    const gate = await agent.get("/v1/gate");
    expect(gate.status).toBe(503);
    expect(gate.body).toBe(
      `closed: DeadlineHeld: held past the deadline: 0/1 gated images warm; ${missing} failed (not_found)\n`,
    );
    expect(metric((await agent.get("/metrics")).body, "prepull_gate_open")).toBe(0);
  });
});
