import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriClient } from "../../src/cri/index.ts";
import { parseReference } from "../../src/reference/index.ts";
import { warmOnce, type ImageRuntime, type WarmTarget } from "../../src/warm/index.ts";
import { runPrepull } from "../cli/run-prepull.ts";
import {
  pushImage,
  pushIndex,
  startContainerd,
  startHangingServer,
  startRegistry,
  type ContainerdInstance,
  type FaultServer,
  type RegistryInstance,
} from "../sandbox/index.ts";

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let hanging: FaultServer;
let runtime: ImageRuntime;
let pullCalls = 0;

beforeAll(async () => {
  [containerd, registry, hanging] = await Promise.all([
    startContainerd(),
    startRegistry(),
    startHangingServer(),
  ]);
  runtime = createCriClient({
    endpoint: containerd.endpoint,
    observer: ({ method }) => {
      if (method === "PullImage") pullCalls += 1;
    },
  });
});

afterAll(async () => {
  runtime.close();
  await Promise.all([containerd.stop(), registry.stop(), hanging.close()]);
});

function target(image: string): WarmTarget {
  const reference = parseReference(image);
  return { image, reference, digest: reference.digest };
}

interface JsonReport {
  warm: boolean;
  images: Array<{
    reference: string;
    result: string;
    digest: string | null;
    imageId: string | null;
    size: number | null;
    errorKind: string | null;
    message: string | null;
    pulls: string[];
  }>;
}

async function warmJson(args: string[]): Promise<{ code: number; report: JsonReport; stderr: string }> {
  const run = await runPrepull(["warm", "--runtime-endpoint", containerd.endpoint, "-o", "json", ...args]);
  return { code: run.code, report: JSON.parse(run.stdout) as JsonReport, stderr: run.stderr };
}

describe("prepull warm against a real containerd and registry", () => {
  it("a digest-only pull leaves the tag unresolvable; warming name:tag@digest makes both resolvable", async () => {
    const image = await pushImage(registry, {
      repository: "team/api",
      tag: "v1",
      layers: [{ size: 4096, seed: "api" }],
    });
    const byDigest = `${registry.host}/team/api@${image.digest}`;
    const byTag = `${registry.host}/team/api:v1`;

    await runtime.pullImage(byDigest);
    expect(await runtime.imageStatus(byDigest)).toBeDefined();
    expect(await runtime.imageStatus(byTag)).toBeUndefined();

    const { code, report } = await warmJson([`${byTag}@${image.digest}`]);
    expect(code).toBe(0);
    expect(report.warm).toBe(true);
    expect(report.images[0]?.result).toBe("pulled");
    // The digest is on the node and the registry confirms the tag: the tag is pointed at the
    // digest's record through containerd's images service, not pulled (it was `[byTag]`).
    expect(report.images[0]?.pulls).toEqual([]);
    expect(report.images[0]?.imageId).toBe(image.configDigest);

    const tagged = await runtime.imageStatus(byTag);
    expect(tagged?.repoDigests).toContain(byDigest);
    expect((await runtime.imageStatus(byDigest))?.id).toBe(tagged?.id);
  });

  it("warms a multi-platform index and records it under the index digest", async () => {
    const index = await pushIndex(registry, {
      repository: "team/multi",
      tag: "2.0",
      platforms: [
        { os: "linux", architecture: "amd64", layers: [{ size: 2048, seed: "multi-amd64" }] },
        { os: "linux", architecture: "arm64", layers: [{ size: 2048, seed: "multi-arm64" }] },
      ],
    });
    const { code, report } = await warmJson([`${registry.host}/team/multi:2.0@${index.digest}`]);
    expect(code).toBe(0);
    expect(report.images[0]?.digest).toBe(index.digest);
    const recorded = await runtime.imageStatus(`${registry.host}/team/multi:2.0`);
    expect(recorded?.repoDigests).toEqual([`${registry.host}/team/multi@${index.digest}`]);
    expect(recorded?.id).toBe(index.configDigest);
  });

  it("issues no PullImage for an image that is already present", async () => {
    const image = await pushImage(registry, {
      repository: "team/cached",
      tag: "1",
      layers: [{ size: 1024, seed: "c" }],
    });
    const targets = [
      target(`${registry.host}/team/cached:1@${image.digest}`),
      target(`${registry.host}/team/cached:1`),
    ];
    const first = await warmOnce(targets, { runtime, concurrency: 2, pullTimeoutMs: 30_000 });
    expect(first.map((r) => r.outcome)).toContain("pulled");

    const before = pullCalls;
    const second = await warmOnce(targets, { runtime, concurrency: 2, pullTimeoutMs: 30_000 });
    expect(pullCalls).toBe(before);
    expect(second.map((r) => r.outcome)).toEqual(["present", "present"]);
    expect(second.every((r) => r.pulls.length === 0)).toBe(true);
  });

  it("reports a missing tag as not_found naming the reference, with exit 1", async () => {
    const missing = `${registry.host}/team/absent:nope`;
    const { code, report } = await warmJson([missing]);
    expect(code).toBe(1);
    expect(report.warm).toBe(false);
    expect(report.images[0]?.result).toBe("failed");
    expect(report.images[0]?.errorKind).toBe("not_found");
    expect(report.images[0]?.message).toContain(missing);
  });

  it("rejects an invalid reference with exit 2 and a message naming it", async () => {
    const run = await runPrepull(["warm", "--runtime-endpoint", containerd.endpoint, "Team/App:v1"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Team/App:v1");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it("ends a pull from a registry that never answers at --timeout, while other images still succeed", async () => {
    const good = await pushImage(registry, {
      repository: "team/fine",
      tag: "ok",
      layers: [{ size: 1024, seed: "f" }],
    });
    const stuck = `${hanging.host}/team/stuck:1`;
    const started = Date.now();
    const { code, report } = await warmJson(["--timeout", "2s", stuck, good.reference]);
    const elapsed = Date.now() - started;
    expect(code).toBe(1);
    const byRef = new Map(report.images.map((r) => [r.reference, r]));
    expect(byRef.get(stuck)?.errorKind).toBe("timeout");
    expect(byRef.get(good.reference)?.result).toBe("pulled");
    expect(elapsed).toBeLessThan(30_000);
    expect(hanging.connections).toBeGreaterThan(0);
  });

  it("reports an absent runtime as unavailable, naming the endpoint, with exit 1", async () => {
    const endpoint = `unix://${containerd.root}/no-such.sock`;
    const run = await runPrepull(["warm", "--runtime-endpoint", endpoint, "nginx:1.27"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("unavailable");
    expect(run.stderr).toContain(endpoint);
  });
});
