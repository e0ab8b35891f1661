import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { createCriClient, runtimeSupport } from "../../src/cri/index.ts";
import type { ImageRuntime } from "../../src/warm/index.ts";
import {
  pushImage,
  startContainerd,
  startHangingServer,
  startRegistry,
  type ContainerdInstance,
  type FaultServer,
  type RegistryInstance,
} from "../sandbox/index.ts";
import { startAgentProcess, type AgentProcess } from "./agent-process.ts";
import { ConfigMapVolume, imageSetYaml } from "./config-map.ts";

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let hanging: FaultServer;
let runtime: ImageRuntime;
const running: AgentProcess[] = [];
const volumes: ConfigMapVolume[] = [];

beforeAll(async () => {
  [containerd, registry, hanging] = await Promise.all([
    startContainerd(),
    startRegistry(),
    startHangingServer(),
  ]);
  runtime = createCriClient({ endpoint: containerd.endpoint });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop("SIGKILL")));
  await Promise.all(volumes.splice(0).map((volume) => volume.remove()));
});

afterAll(async () => {
  runtime.close();
  await Promise.all([containerd.stop(), registry.stop(), hanging.close()]);
});

async function agentFor(images: Parameters<typeof imageSetYaml>[1], args: string[] = []) {
  const volume = await ConfigMapVolume.create({ "set.yaml": imageSetYaml("test", images) });
  volumes.push(volume);
  const agent = await startAgentProcess([
    "--config",
    volume.dir,
    "--runtime-endpoint",
    containerd.endpoint,
    "--resync",
    "2s",
    "--node-name",
    "node-a",
    ...args,
  ]);
  running.push(agent);
  return { agent, volume };
}

async function image(repository: string, tag: string, seed = repository) {
  return pushImage(registry, { repository, tag, layers: [{ size: 2048, seed }] });
}

describe("prepull agent against a real containerd and registry", () => {
  it("warms a set and reports warm with the generation", async () => {
    const a = await image("agent/a", "1");
    const b = await image("agent/b", "1");
    const { agent } = await agentFor([a.reference, { image: b.reference, digest: b.digest }]);
    const status = await agent.waitFor((s) => s.warm, "warm");
    expect(status.generation).toMatch(/^[0-9a-f]{8,}$/);
    expect(status.node).toBe("node-a");
    expect(status.summary.present).toBe(2);
    expect(status.entries.find((e) => e.image === b.reference)?.digest).toBe(b.digest);
    expect(status.runtime).toMatchObject({ reachable: true, name: "containerd", apiVersion: "v1" });
    expect((await agent.get("/healthz")).status).toBe(200);
    const metrics = (await agent.get("/metrics")).body;
    expect(metrics).toContain('prepull_entries{state="present"} 2');
    expect(metrics).toContain(`prepull_config_generation_info{generation="${status.generation}"} 1`);
  });

  it("answers /healthz and /readyz on its probe port, where --probe-listen puts it, and runs none with off", async () => {
    const a = await image("agent/probes", "1");
    const { agent } = await agentFor(
      [a.reference],
      ["--probe-listen", "127.0.0.2:0", "--ready-when", "warm"],
    );
    expect(agent.probeUrl).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    const probeUrl = agent.probeUrl ?? "";
    await agent.waitFor((s) => s.warm, "warm");
    for (const path of ["/healthz", "/readyz"]) {
      const [main, probe] = await Promise.all([fetch(`${agent.url}${path}`), fetch(`${probeUrl}${path}`)]);
      expect([probe.status, await probe.text()]).toEqual([200, await main.text()]);
    }
    expect((await fetch(`${probeUrl}/v1/status`)).status).toBe(404);
    const { agent: without } = await agentFor([a.reference], ["--probe-listen", "off"]);
    expect(without.probeUrl).toBeUndefined();
    expect((await without.get("/healthz")).status).toBe(200);
  });

  it("reports how well its runtime is supported, warning once past its end of life, and empty set files", async () => {
    const a = await image("agent/support", "1");
    const volume = await ConfigMapVolume.create({
      "set.yaml": imageSetYaml("test", [a.reference]),
      "blank.yaml": "# emptied on purpose\n",
    });
    volumes.push(volume);
    const agent = await startAgentProcess([
      "--config",
      volume.dir,
      "--runtime-endpoint",
      containerd.endpoint,
    ]);
    running.push(agent);
    const status = await agent.waitFor((s) => s.warm, "warm");
    const expected = runtimeSupport("containerd", containerd.runtime.version);
    expect(status.runtime.support).toEqual(expected);
    expect(status.runtime.support?.pinning).toBe(
      containerd.runtime.major > 1 || containerd.runtime.minor >= 7,
    );
    expect(status.runtime.support?.artifacts).toBe(containerd.runtime.major >= 2);
    // The warning is logged when the version is first judged; its line reaches us a moment later.
    const warnings = (): unknown[] =>
      agent.logs.filter((line) => line.runtime !== undefined && line.level === 40).map((line) => line.msg);
    await expect.poll(warnings, { timeout: 10_000 }).toEqual(expected.note === null ? [] : [expected.note]);
    expect(status.config.emptyFiles).toEqual([join(volume.dir, "blank.yaml")]);
  });

  it("follows ConfigMap-style updates without a restart, and cancels the pull of a removed entry", async () => {
    const stuck = `${hanging.host}/agent/stuck:1`;
    const { agent, volume } = await agentFor([stuck], ["--concurrency", "1"]);
    const first = await agent.waitFor(
      (s) => s.entries.some((e) => e.image === stuck && e.state === "pulling"),
      "the stuck pull to start",
    );
    const added = await image("agent/added", "1");
    await volume.update({ "set.yaml": imageSetYaml("test", [added.reference]) });
    const next = await agent.waitFor(
      (s) => s.warm && s.generation !== first.generation,
      "the new entry to be warm",
    );
    expect(next.entries.map((e) => e.image)).toEqual([added.reference]);
    expect(agent.logs.some((line) => line.msg === "entry left the set; cancelling its pull")).toBe(true);
  });

  it("restores every name of an image removed behind its back within one resync", async () => {
    const pinned = await image("agent/restored", "v2");
    const entry = `${registry.host}/agent/restored:v2@${pinned.digest}`;
    const { agent } = await agentFor([entry]);
    await agent.waitFor((s) => s.warm, "warm");
    await runtime.removeImage(`${registry.host}/agent/restored:v2`);
    expect(await runtime.imageStatus(`${registry.host}/agent/restored@${pinned.digest}`)).toBeUndefined();
    const removedAt = Date.now();
    await agent.waitFor(
      (s) => s.warm && s.lastPass !== null && Date.parse(s.lastPass.at) > removedAt,
      "a pass after the removal",
    );
    const byTag = await runtime.imageStatus(`${registry.host}/agent/restored:v2`);
    expect(byTag?.repoDigests).toContain(`${registry.host}/agent/restored@${pinned.digest}`);
  });

  it("keeps the last good set when a new file is invalid, and reports the error", async () => {
    const kept = await image("agent/kept", "1");
    const { agent, volume } = await agentFor([kept.reference]);
    const good = await agent.waitFor((s) => s.warm, "warm");
    await volume.update({
      "set.yaml":
        "apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: test}\nspec:\n  images:\n    - Not/A:Valid@ref\n",
    });
    const broken = await agent.waitFor((s) => s.config.error !== null, "the config error");
    expect(broken.generation).toBe(good.generation);
    expect(broken.config.error?.message).toContain("set.yaml");
    expect(broken.entries.map((e) => e.image)).toEqual([kept.reference]);
    expect(await runtime.imageStatus(kept.reference)).toBeDefined();
    const metrics = (await agent.get("/metrics")).body;
    expect(metrics).toMatch(/prepull_config_errors_total 1/);
  });

  it("marks an entry drifted when its tag moved after locking, and does not pull the tag", async () => {
    const locked = await image("agent/drift", "v1", "drift-old");
    const moved = await image("agent/drift", "v1", "drift-new");
    const { agent } = await agentFor([{ image: `${registry.host}/agent/drift:v1`, digest: locked.digest }]);
    const status = await agent.waitFor((s) => s.entries[0]?.state === "drifted", "drift");
    expect(status.entries[0]).toMatchObject({ digest: locked.digest, registryDigest: moved.digest });
    expect(await runtime.imageStatus(`${registry.host}/agent/drift@${locked.digest}`)).toBeDefined();
    expect(await runtime.imageStatus(`${registry.host}/agent/drift:v1`)).toBeUndefined();
    expect(status.warm).toBe(false);
  });

  it("blocks pulls above the disk threshold and proceeds once it is raised", async () => {
    const big = await pushImage(registry, {
      repository: "agent/big",
      tag: "1",
      layers: [{ size: 1_000_000, seed: "big" }],
    });
    const low = await agentFor([big.reference], ["--disk-threshold", "0.01"]);
    const blocked = await low.agent.waitFor((s) => s.entries[0]?.state === "blocked", "blocked");
    expect(blocked.entries[0]?.errorKind).toBe("disk");
    expect(blocked.entries[0]?.message).toContain("limit");
    expect(await runtime.imageStatus(big.reference)).toBeUndefined();
    await low.agent.stop();

    const high = await agentFor([big.reference], ["--disk-threshold", "99.9"]);
    await high.agent.waitFor((s) => s.warm, "warm after raising the threshold");
  });

  it("survives containerd being killed and restarted, reporting unhealthy in between", async () => {
    const survivor = await image("agent/survivor", "1");
    const { agent } = await agentFor([survivor.reference], ["--runtime-grace", "1s"]);
    await agent.waitFor((s) => s.warm, "warm");
    await containerd.kill("SIGKILL");
    await agent.waitFor((s) => !s.runtime.reachable, "the runtime to be seen down");
    await expect.poll(async () => (await agent.get("/healthz")).status, { timeout: 15_000 }).toBe(503);
    await containerd.restart();
    await expect.poll(async () => (await agent.get("/healthz")).status, { timeout: 30_000 }).toBe(200);
    await agent.waitFor((s) => s.warm && s.runtime.reachable, "warm again");
  });

  it("exits 0 within the grace period on SIGTERM during a slow pull", async () => {
    const { agent } = await agentFor([`${hanging.host}/agent/slow:1`], ["--shutdown-grace", "1s"]);
    await agent.waitFor((s) => s.entries[0]?.state === "pulling", "the pull to start");
    const started = Date.now();
    const code = await agent.stop("SIGTERM");
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("backs off a failing entry without delaying the others", async () => {
    const ok1 = await image("agent/ok1", "1");
    const ok2 = await image("agent/ok2", "1");
    const missing = `${registry.host}/agent/missing:nope`;
    const { agent } = await agentFor([missing, ok1.reference, ok2.reference], ["--concurrency", "1"]);
    const status = await agent.waitFor(
      (s) => s.summary.present === 2 && s.entries.some((e) => e.image === missing && e.state === "failed"),
      "the good entries present and the missing one failed",
    );
    const failed = status.entries.find((e) => e.image === missing);
    expect(failed).toMatchObject({ errorKind: "not_found", attempts: 1 });
    expect(Date.parse(failed?.nextRetryAt ?? "")).toBeGreaterThan(Date.now() + 10_000);
    // Several resyncs later it has not been retried: it is backing off.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const later = await agent.status();
    expect(later.entries.find((e) => e.image === missing)?.attempts).toBe(1);
  });
});
