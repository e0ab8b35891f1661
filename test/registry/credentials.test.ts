import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../agent/agent-process.ts";
import { imageSetYaml } from "../agent/config-map.ts";
import { runPrepull } from "../cli/run-prepull.ts";
import {
  pushImage,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type RegistryInstance,
} from "../sandbox/index.ts";

const PASSWORD = "Sup3r-Secret-Pa55word";
const WRONG = "Wr0ng-Secret-Pa55word";
let containerd: ContainerdInstance;
let registry: RegistryInstance;
let dir: string;

beforeAll(async () => {
  [containerd, registry] = await Promise.all([
    startContainerd(),
    startRegistry({ tls: true, htpasswd: { username: "puller", password: PASSWORD } }),
  ]);
  await containerd.trustRegistry(registry);
  dir = await mkdtemp(join(tmpdir(), "prepull-creds-"));
});

afterAll(async () => {
  await Promise.all([containerd.stop(), registry.stop(), rm(dir, { recursive: true, force: true })]);
});

async function dockerConfig(name: string, password: string): Promise<string> {
  const file = join(dir, name);
  const auth = Buffer.from(`puller:${password}`).toString("base64");
  await writeFile(file, JSON.stringify({ auths: { [registry.host]: { auth } } }));
  return file;
}

describe("credentials never reach output or logs", () => {
  it("lock, warm, status and the agent use the credentials and never print them", async () => {
    const image = await pushImage(registry, { repository: "private/api", tag: "v1" });
    const good = await dockerConfig("good.json", PASSWORD);
    const bad = await dockerConfig("bad.json", WRONG);
    const setFile = join(dir, "set.yaml");
    await writeFile(setFile, imageSetYaml("private", [image.reference]));
    const registryFlags = ["--registry-hosts-dir", containerd.certsDir];
    const runtimeFlags = ["--runtime-endpoint", containerd.endpoint];
    const outputs: string[] = [];

    const lock = await runPrepull(["lock", setFile, "--docker-config", good, ...registryFlags]);
    outputs.push(lock.stdout, lock.stderr);
    expect(lock.code).toBe(0);
    expect(await readFile(setFile, "utf8")).toContain(`digest: ${image.digest}`);

    const warm = await runPrepull([
      "warm",
      "--config",
      setFile,
      "--docker-config",
      good,
      ...registryFlags,
      ...runtimeFlags,
      "-o",
      "json",
    ]);
    outputs.push(warm.stdout, warm.stderr);
    expect(warm.code).toBe(0);

    const wrongLock = await runPrepull([
      "lock",
      "--check",
      setFile,
      "--docker-config",
      bad,
      ...registryFlags,
    ]);
    outputs.push(wrongLock.stdout, wrongLock.stderr);
    expect(wrongLock.code).toBe(1);
    expect(wrongLock.stdout).toContain("auth");

    const wrongWarm = await runPrepull([
      "warm",
      `${registry.host}/private/api:other`,
      "--docker-config",
      bad,
      ...registryFlags,
      ...runtimeFlags,
    ]);
    outputs.push(wrongWarm.stdout, wrongWarm.stderr);
    expect(wrongWarm.code).toBe(1);

    const agent = await startAgentProcess([
      "--config",
      setFile,
      "--docker-config",
      bad,
      ...registryFlags,
      ...runtimeFlags,
    ]);
    try {
      await agent.waitFor((s) => s.warm, "warm");
      outputs.push((await agent.get("/v1/status")).body, (await agent.get("/metrics")).body);
    } finally {
      await agent.stop();
    }
    outputs.push(...agent.output);

    const everything = outputs.join("\n");
    expect(everything.length).toBeGreaterThan(1000);
    for (const secret of [
      PASSWORD,
      WRONG,
      Buffer.from(`puller:${PASSWORD}`).toString("base64"),
      Buffer.from(`puller:${WRONG}`).toString("base64"),
    ]) {
      expect(everything).not.toContain(secret);
    }
  });
});
