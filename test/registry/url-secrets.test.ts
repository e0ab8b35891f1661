import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../agent/agent-process.ts";
import { imageSetYaml } from "../agent/config-map.ts";
import { runPrepull, type CliRun } from "../cli/run-prepull.ts";
import {
  pushImage,
  startContainerd,
  startFaultProxy,
  startRegistry,
  type ContainerdInstance,
  type RegistryInstance,
} from "../sandbox/index.ts";

// Passwords written into URLs: a hosts.toml mirror, a --mirror flag and an image reference; and a
// token written alone before a registry (`TOKEN@host`, no scheme, no colon).
const HOSTS_PASSWORD = "H0sts-Url-Secret-7731";
const FLAG_PASSWORD = "Fl4g-Url-Secret-8842";
const REFERENCE_PASSWORD = "R3f-Url-Secret-9953";
const TOKEN = "Tok3nOnly-Url-Secret-1164";
const SECRETS = [HOSTS_PASSWORD, FLAG_PASSWORD, REFERENCE_PASSWORD, TOKEN].flatMap((password) => [
  password,
  Buffer.from(password).toString("base64"),
  Buffer.from(`puller:${password}`).toString("base64"),
  encodeURIComponent(password),
]);

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let dir: string;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  dir = await mkdtemp(join(tmpdir(), "prepull-url-secrets-"));
});

afterAll(async () => {
  await Promise.all([containerd.stop(), registry.stop(), rm(dir, { recursive: true, force: true })]);
});

/** Registry hosts whose only resolving endpoint is a mirror, so its errors are the ones reported. */
async function hostsToml(domain: string, mirror?: string): Promise<void> {
  await mkdir(join(containerd.certsDir, domain), { recursive: true });
  const lines = ['server = "http://127.0.0.1:9"', 'capabilities = ["pull"]'];
  if (mirror !== undefined) lines.push(`[host."${mirror}"]`, '  capabilities = ["pull", "resolve"]');
  await writeFile(join(containerd.certsDir, domain, "hosts.toml"), `${lines.join("\n")}\n`);
}

function outputs(...runs: CliRun[]): string[] {
  return runs.flatMap((run) => [run.stdout, run.stderr]);
}

function expectNoSecrets(texts: readonly string[]): void {
  const everything = texts.join("\n");
  expect(everything.length).toBeGreaterThan(500);
  const leaks = everything.split("\n").filter((line) => SECRETS.some((secret) => line.includes(secret)));
  expect(leaks).toEqual([]);
}

describe("passwords written into URLs never reach output", () => {
  let setFile: string;
  let registryFlags: string[];
  let runtimeFlags: string[];

  beforeAll(async () => {
    await pushImage(registry, { repository: "mirrored/app", tag: "1" });
    await hostsToml("hosts-mirror.invalid", `http://puller:${HOSTS_PASSWORD}@${registry.host}`);
    await hostsToml("flag-mirror.invalid");
    setFile = join(dir, "set.yaml");
    await writeFile(
      setFile,
      imageSetYaml("secrets", [
        "hosts-mirror.invalid/mirrored/app:1",
        "hosts-mirror.invalid/mirrored/app:missing",
        "flag-mirror.invalid/mirrored/app:missing",
      ]),
    );
    registryFlags = [
      "--registry-hosts-dir",
      containerd.certsDir,
      "--mirror",
      `flag-mirror.invalid=http://puller:${FLAG_PASSWORD}@${registry.host}`,
    ];
    runtimeFlags = ["--runtime-endpoint", containerd.endpoint];
  });

  it("lock, warm and status name a failing mirror without its password", async () => {
    const [lock, lockJson] = await Promise.all([
      runPrepull(["lock", setFile, "--out", "-", ...registryFlags]),
      runPrepull(["lock", setFile, "--out", "-", "--output", "json", ...registryFlags]),
    ]);
    expect(lock.code).toBe(1);
    // Both mirrors are named in the not-found errors, without their passwords.
    expect(lock.stdout + lock.stderr).toContain(
      `hosts-mirror.invalid/mirrored/app:missing: not_found: http://${registry.host}`,
    );
    expect(lock.stdout + lock.stderr).toContain(
      `flag-mirror.invalid/mirrored/app:missing: not_found: http://${registry.host}`,
    );
    const seen = outputs(lock, lockJson);
    for (const format of ["text", "json"]) {
      const warm = await runPrepull([
        "warm",
        "--config",
        setFile,
        ...registryFlags,
        ...runtimeFlags,
        "-o",
        format,
      ]);
      expect(warm.code).toBe(1);
      const status = await runPrepull(["status", "--config", setFile, ...runtimeFlags, "-o", format]);
      seen.push(...outputs(warm, status));
    }
    expectNoSecrets(seen);
  });

  it("neither do the agent's /v1/status, /metrics and logs, nor wait in text and JSON", async () => {
    const seen: string[] = [];
    const agent = await startAgentProcess(["--config", setFile, ...registryFlags, ...runtimeFlags]);
    try {
      const settled = await agent.waitFor(
        (s) => s.entries.length === 3 && s.entries.every((e) => !["pending", "pulling"].includes(e.state)),
        "every entry settled",
      );
      expect(settled.entries.filter((e) => e.state === "present")).toHaveLength(1);
      seen.push((await agent.get("/v1/status")).body, (await agent.get("/metrics")).body);
      const agentAddress = new URL(agent.url).host;
      const waits = await Promise.all(
        ["text", "json"].map((format) =>
          runPrepull(["wait", "--agents", agentAddress, "-t", "1s", "--interval", "200ms", "-o", format]),
        ),
      );
      for (const wait of waits) expect(wait.code).toBe(1);
      seen.push(...outputs(...waits));
    } finally {
      await agent.stop();
    }
    seen.push(...agent.output);
    expectNoSecrets(seen);
  });

  it("usage and ImageSet errors never echo userinfo written in a reference or a --mirror", async () => {
    const badSet = join(dir, "bad.yaml");
    await writeFile(
      badSet,
      imageSetYaml("bad", [`puller:${REFERENCE_PASSWORD}@${registry.host}/mirrored/app:1`]),
    );
    const tokenSet = join(dir, "token.yaml");
    await writeFile(tokenSet, imageSetYaml("token", [`${TOKEN}@${registry.host}/mirrored/app:1`]));
    const usage = await Promise.all([
      runPrepull(["warm", `puller:${REFERENCE_PASSWORD}@${registry.host}/mirrored/app:1`, ...runtimeFlags]),
      runPrepull([
        "warm",
        `http://puller:${REFERENCE_PASSWORD}@${registry.host}/mirrored/app:1`,
        ...runtimeFlags,
      ]),
      runPrepull(["warm", `${TOKEN}@${registry.host}/mirrored/app:1`, ...runtimeFlags]),
      runPrepull(["lock", badSet]),
      runPrepull(["lock", tokenSet]),
      runPrepull(["lock", setFile, "--mirror", `docker.io=ftp://puller:${FLAG_PASSWORD}@${registry.host}`]),
      runPrepull(["lock", setFile, "--mirror", `docker.io=${TOKEN}@${registry.host}`]),
      runPrepull(["lock", setFile, "--mirror", `${TOKEN}@${registry.host}`]),
    ]);
    for (const run of usage) expect(run.code).toBe(2);
    const seen = outputs(...usage);
    // Each names what was wrong, with the userinfo replaced.
    for (const run of usage) expect(run.stderr).toContain("***@");
    // An agent that starts with a bad set exits; one whose set turns bad reports it in its status.
    const startBad = await runPrepull([
      "agent",
      "--config",
      badSet,
      "--listen",
      "127.0.0.1:0",
      ...runtimeFlags,
    ]);
    expect(startBad.code).not.toBe(0);
    seen.push(...outputs(startBad));
    const liveSet = join(dir, "live.yaml");
    await writeFile(liveSet, imageSetYaml("live", [`${registry.host}/mirrored/app:1`]));
    const reloading = await startAgentProcess(["--config", liveSet, ...runtimeFlags]);
    try {
      await reloading.waitFor((s) => s.warm, "warm");
      await writeFile(liveSet, await readFile(badSet, "utf8"));
      const status = await reloading.waitFor((s) => s.config.error !== null, "a config error");
      expect(status.config.error?.message).toContain("live.yaml");
      seen.push((await reloading.get("/v1/status")).body);
    } finally {
      await reloading.stop();
    }
    seen.push(...reloading.output);
    expectNoSecrets(seen);
  });
});

describe("a registry answering 500", () => {
  it("is a network failure for the resolver and for a pull through the runtime, not runtime", async () => {
    const proxy = await startFaultProxy(registry, () => ({ status: 500, body: "internal error" }));
    try {
      const image = `${proxy.host}/mirrored/app:1`;
      const setFile = join(dir, "five-hundred.yaml");
      await writeFile(setFile, imageSetYaml("five-hundred", [image]));
      const lock = await runPrepull(["lock", setFile, "--output", "json"]);
      expect(lock.stdout + lock.stderr).toContain("network");
      const warm = await runPrepull(["warm", image, "--runtime-endpoint", containerd.endpoint, "-o", "json"]);
      expect(warm.code).toBe(1);
      const report = JSON.parse(warm.stdout) as { images: Array<{ errorKind: string; message: string }> };
      expect(report.images[0]?.errorKind).toBe("network");
      expect(report.images[0]?.message).toContain("500");
    } finally {
      await proxy.close();
    }
  });
});
