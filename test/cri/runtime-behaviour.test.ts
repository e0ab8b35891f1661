// What each runtime of the matrix records and answers, pinned down per runtime: the facts the
// planner, the classifier and the disk guard rely on. Run on every runtime by test:runtimes.
import { credentials, Client, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriClient } from "../../src/cri/index.ts";
import { isClassifiedError } from "../../src/failure/index.ts";
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
let secured: RegistryInstance;
let untrusted: RegistryInstance;
let otherCa: RegistryInstance;
let hanging: FaultServer;
let cri: ReturnType<typeof createCriClient>;

beforeAll(async () => {
  [containerd, registry, secured, untrusted, otherCa, hanging] = await Promise.all([
    startContainerd(),
    startRegistry(),
    startRegistry({ htpasswd: { username: "ci", password: "behaviour-secret" } }),
    startRegistry({ tls: true }),
    startRegistry({ tls: true }),
    startHangingServer(),
  ]);
  cri = createCriClient({ endpoint: containerd.endpoint });
});

afterAll(async () => {
  cri.close();
  await Promise.all([
    containerd.stop(),
    registry.stop(),
    secured.stop(),
    untrusted.stop(),
    otherCa.stop(),
    hanging.close(),
  ]);
});

const atLeast = (major: number, minor: number): boolean =>
  containerd.runtime.major > major ||
  (containerd.runtime.major === major && containerd.runtime.minor >= minor);

async function pullError(image: string, timeoutMs = 20_000): Promise<{ kind: string; message: string }> {
  try {
    await cri.pullImage(image, { timeoutMs });
  } catch (error) {
    if (isClassifiedError(error)) return { kind: error.kind, message: error.message };
    throw error;
  }
  throw new Error(`pulling ${image} succeeded`);
}

describe(`CRI behaviour of the runtime under test`, () => {
  it("reports its own name and version over CRI v1", async () => {
    const version = await cri.version();
    expect(version.runtimeName).toBe("containerd");
    expect(version.runtimeVersion).toContain(containerd.runtime.version);
    expect(version.runtimeApiVersion).toBe("v1");
  });

  it("serves CRI v1alpha2 up to 1.7 and not at all from 2.0", async () => {
    const client = new Client(containerd.endpoint, credentials.createInsecure());
    const code = await new Promise<number>((resolve) => {
      client.makeUnaryRequest(
        "/runtime.v1alpha2.ImageService/ListImages",
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.alloc(0),
        { deadline: Date.now() + 5_000 },
        (error: ServiceError | null) => {
          resolve(error === null ? GrpcStatus.OK : error.code);
        },
      );
    });
    client.close();
    expect(code).toBe(containerd.runtime.major >= 2 ? GrpcStatus.UNIMPLEMENTED : GrpcStatus.OK);
  });

  it("records tags and digests per kind of pull as the planner expects", async () => {
    const byTag = await pushImage(registry, { repository: "behaviour/tagged", tag: "v1" });
    const byDigest = await pushImage(registry, { repository: "behaviour/digest", tag: "v1" });
    const both = await pushImage(registry, { repository: "behaviour/both", tag: "v1" });

    const tagRef = await cri.pullImage(byTag.reference);
    expect(tagRef).toBe(byTag.configDigest);
    const tagged = await cri.imageStatus(byTag.reference);
    expect(tagged).toMatchObject({
      id: byTag.configDigest,
      repoTags: [byTag.reference],
      repoDigests: [`${byTag.repository}@${byTag.digest}`],
    });
    // The recorded size counts the manifest too, so it is never below the registry's blob sum.
    expect(tagged?.size).toBeGreaterThanOrEqual(byTag.platformSize);

    await cri.pullImage(`${byDigest.repository}@${byDigest.digest}`);
    const digestOnly = await cri.imageStatus(`${byDigest.repository}@${byDigest.digest}`);
    expect(digestOnly?.repoTags).toEqual([]);
    expect(digestOnly?.repoDigests).toEqual([`${byDigest.repository}@${byDigest.digest}`]);
    // A digest-only pull never makes the tag resolvable.
    expect(await cri.imageStatus(byDigest.reference)).toBeUndefined();

    // name:tag@digest: the tag is dropped on every runtime of the matrix.
    await cri.pullImage(`${both.reference}@${both.digest}`);
    const combined = await cri.imageStatus(`${both.repository}@${both.digest}`);
    expect(combined?.repoTags).toEqual([]);
    expect(await cri.imageStatus(both.reference)).toBeUndefined();
  });

  it("records a multi-platform image under its index digest", async () => {
    const index = await pushIndex(registry, {
      repository: "behaviour/multi",
      tag: "v1",
      platforms: [
        { os: "linux", architecture: "arm64", variant: "v8" },
        { os: "linux", architecture: process.arch === "arm64" ? "arm64" : "amd64" },
      ],
    });
    await cri.pullImage(index.reference);
    const image = await cri.imageStatus(index.reference);
    expect(image?.repoDigests).toEqual([`${index.repository}@${index.digest}`]);
  });

  it("reports the image filesystem's mountpoint and usage", async () => {
    const filesystems = await cri.imageFsInfo();
    expect(filesystems.length).toBeGreaterThan(0);
    const [first] = filesystems;
    expect(first?.mountpoint.startsWith(containerd.root)).toBe(true);
    expect(first?.usedBytes).toBeGreaterThanOrEqual(0);
  });

  it("classifies the runtime's error texts into the same kinds", async () => {
    expect((await pullError(`${registry.host}/behaviour/absent:v1`)).kind).toBe("not_found");
    const image = await pushImage(secured, { repository: "behaviour/private", tag: "v1" });
    expect((await pullError(image.reference)).kind).toBe("auth");
    // From 1.7 on, containerd trusts a loopback registry without verification unless hosts.toml
    // says how to reach it; a hosts.toml naming another CA makes the certificate fail everywhere.
    const unknownCa = await pushImage(untrusted, { repository: "behaviour/tls", tag: "v1" });
    await mkdir(join(containerd.certsDir, untrusted.host), { recursive: true });
    await writeFile(
      join(containerd.certsDir, untrusted.host, "hosts.toml"),
      `server = "https://${untrusted.host}"\n\n[host."https://${untrusted.host}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${otherCa.caCertPath ?? ""}"\n`,
    );
    expect((await pullError(unknownCa.reference)).kind).toBe("tls");
    // Nothing listens on port 9 of loopback.
    expect((await pullError("127.0.0.1:9/behaviour/refused:v1")).kind).toBe("network");
    expect((await pullError("Invalid//Reference:v1")).kind).toBe("invalid");
    const stuck = await pullError(`${hanging.host}/behaviour/hangs:v1`, 1_500);
    expect(stuck.kind, stuck.message).toBe("timeout");
  });

  it("reports an image labelled pinned as pinned from 1.7 on, and ignores the label on 1.6", async () => {
    const image = await pushImage(registry, { repository: "behaviour/pinned", tag: "v1" });
    await cri.pullImage(image.reference);
    await containerd.ctr(["images", "label", image.reference, "io.cri-containerd.pinned=pinned"]);
    const listed = (await cri.listImages()).find((entry) => entry.id === image.configDigest);
    expect(listed?.pinned).toBe(atLeast(1, 7));
  });
});
