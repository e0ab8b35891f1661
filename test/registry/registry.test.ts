import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriClient } from "../../src/cri/index.ts";
import { isClassifiedError } from "../../src/failure/index.ts";
import { parseReference } from "../../src/reference/index.ts";
import {
  CredentialKeyring,
  createRegistryClient,
  loadRegistryHosts,
  type RegistryClient,
} from "../../src/registry/index.ts";
import {
  generateCertificates,
  pushArtifact,
  pushImage,
  pushIndex,
  startContainerd,
  startFaultProxy,
  startRegistry,
  type RegistryInstance,
} from "../sandbox/index.ts";
import { startPrefixProxy } from "./prefix-proxy.ts";
import { startTokenServer } from "./token-server.ts";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
let registry: RegistryInstance;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  registry = await startRegistry();
  cleanups.push(() => registry.stop());
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function failureOf(promise: Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isClassifiedError(error)) return { kind: error.kind, message: error.message };
    throw error;
  }
  throw new Error("expected a failure");
}

async function withClient<T>(
  options: Parameters<typeof createRegistryClient>[0],
  use: (client: RegistryClient) => Promise<T>,
): Promise<T> {
  const client = createRegistryClient(options);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

async function hostsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "prepull-hosts-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  for (const [host, text] of Object.entries(files)) {
    await mkdir(join(dir, host));
    await writeFile(join(dir, host, "hosts.toml"), text);
  }
  return dir;
}

describe("resolution against a real registry", () => {
  it("resolves tags, digests and indexes to the digests containerd records after a pull", async () => {
    const containerd = await startContainerd();
    cleanups.push(() => containerd.stop());
    const single = await pushImage(registry, {
      repository: "res/single",
      tag: "1",
      layers: [{ size: 5000, seed: "s" }],
    });
    const docker = await pushImage(registry, { repository: "res/docker", tag: "1", mediaType: "docker" });
    const index = await pushIndex(registry, {
      repository: "res/multi",
      tag: "2",
      platforms: [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64" },
      ],
    });
    const runtime = createCriClient({ endpoint: containerd.endpoint });
    try {
      await withClient({}, async (client) => {
        for (const image of [single, docker, index]) {
          const resolved = await client.resolve(parseReference(image.reference), { withSize: true });
          expect(resolved.digest).toBe(image.digest);
          expect(resolved.platformSize).toBe(image.platformSize);
          await runtime.pullImage(image.reference);
          const recorded = await runtime.imageStatus(image.reference);
          expect(recorded?.repoDigests).toContain(`${image.repository}@${resolved.digest}`);
          const byDigest = await client.resolve(parseReference(`${image.repository}@${image.digest}`));
          expect(byDigest.digest).toBe(image.digest);
        }
        const multi = await client.resolve(parseReference(index.reference), { withSize: true });
        expect(multi.platforms?.map((p) => p.architecture)).toEqual(["amd64", "arm64"]);
      });
    } finally {
      runtime.close();
    }
  });

  it("reports a missing tag as not_found naming the reference", async () => {
    const failure = await withClient({}, (client) =>
      failureOf(client.resolve(parseReference(`${registry.host}/res/none:x`))),
    );
    expect(failure.kind).toBe("not_found");
    expect(failure.message).toContain(`${registry.host}/res/none:x`);
  });
});

describe("OCI artifacts (image volumes)", () => {
  it("resolves an artifact manifest to its digest and the size of its blobs", async () => {
    const artifact = await pushArtifact(registry, {
      repository: "artifacts/volume",
      tag: "1",
      layers: [
        { size: 3000, seed: "a" },
        { size: 700, seed: "b" },
      ],
    });
    const other = await pushArtifact(registry, {
      repository: "artifacts/blob",
      tag: "1",
      artifactType: "application/vnd.example.model.v1",
      layerMediaType: "application/octet-stream",
    });
    await withClient({}, async (client) => {
      for (const pushed of [artifact, other]) {
        const resolved = await client.resolve(parseReference(pushed.reference), { withSize: true });
        expect(resolved).toMatchObject({ digest: pushed.digest, platformSize: pushed.platformSize });
        const byDigest = await client.resolve(parseReference(`${pushed.repository}@${pushed.digest}`), {
          withSize: true,
        });
        expect(byDigest.platformSize).toBe(pushed.platformSize);
      }
    });
    // Two tar layers (each one 512-byte header, the padded data, 1024 bytes of end) and `{}`.
    expect(artifact.platformSize).toBe(2 + (512 + 3072 + 1024) + (512 + 1024 + 1024));
  });

  it("builds what containerd 2.x pulls through CRI (1.x cannot unpack artifacts)", async () => {
    const artifact = await pushArtifact(registry, { repository: "artifacts/pulled", tag: "1" });
    const containerd = await startContainerd();
    cleanups.push(() => containerd.stop());
    const runtime = createCriClient({ endpoint: containerd.endpoint });
    try {
      const pulled = runtime.pullImage(artifact.reference);
      if (containerd.runtime.major >= 2) {
        await pulled;
        const recorded = await runtime.imageStatus(artifact.reference);
        expect(recorded?.repoDigests).toContain(`${artifact.repository}@${artifact.digest}`);
      } else {
        await expect(pulled).rejects.toThrow(/mismatched image rootfs and manifest layers/);
      }
    } finally {
      runtime.close();
    }
  });
});

describe("basic auth over TLS with a generated CA", () => {
  const credentials = { username: "puller", password: "s3cret-Pa55" };
  let secure: RegistryInstance;
  let image: Awaited<ReturnType<typeof pushImage>>;
  let hosts: Awaited<ReturnType<typeof loadRegistryHosts>>;

  beforeAll(async () => {
    secure = await startRegistry({ tls: true, htpasswd: credentials });
    cleanups.push(() => secure.stop());
    image = await pushImage(secure, { repository: "private/app", tag: "1" });
    hosts = await loadRegistryHosts(
      await hostsDir({
        [secure.host]: `server = "https://${secure.host}"\n\n[host."https://${secure.host}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${secure.caCertPath ?? ""}"\n`,
      }),
    );
  });

  const keyringWith = (password: string): CredentialKeyring =>
    CredentialKeyring.fromEntries([
      { key: secure.host, credential: { username: credentials.username, password, source: "test.json" } },
    ]);

  it("resolves with the right credentials", async () => {
    const resolved = await withClient({ hosts, keyring: keyringWith(credentials.password) }, (client) =>
      client.resolve(parseReference(image.reference)),
    );
    expect(resolved.digest).toBe(image.digest);
  });

  it("gives auth for wrong credentials, naming their file and never the password", async () => {
    const failure = await withClient({ hosts, keyring: keyringWith("wrong-password-123") }, (client) =>
      failureOf(client.resolve(parseReference(image.reference))),
    );
    expect(failure.kind).toBe("auth");
    expect(failure.message).toContain("test.json");
    expect(failure.message).not.toContain("wrong-password-123");
  });

  it("gives tls when the CA is not known", async () => {
    const withoutCa = await loadRegistryHosts(
      await hostsDir({ [secure.host]: `server = "https://${secure.host}"\n` }),
    );
    const failure = await withClient(
      { hosts: withoutCa, keyring: keyringWith(credentials.password) },
      (client) => failureOf(client.resolve(parseReference(image.reference))),
    );
    expect(failure.kind).toBe("tls");
  });
});

describe("bearer tokens from a token service", () => {
  it("fetches, caches and renews tokens for a registry configured with auth.token", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prepull-token-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const certificates = await generateCertificates(dir);
    const credentials = { username: "robot", password: "t0ken-Pa55" };
    const tokens = await startTokenServer({ certificates, credentials, expiresInSeconds: 2 });
    cleanups.push(() => tokens.close());
    // A second registry serving the same storage behind token auth: pushed plainly, read with tokens.
    const guarded = await startRegistry({
      extraConfig: {
        storage: { filesystem: { rootdirectory: join(registry.dir, "data") } },
        auth: {
          token: {
            realm: tokens.realm,
            service: tokens.service,
            issuer: tokens.issuer,
            rootcertbundle: certificates.caCertPath,
          },
        },
      },
    });
    cleanups.push(() => guarded.stop());
    const image = await pushImage(registry, { repository: "tok/app", tag: "1" });
    const reference = parseReference(`${guarded.host}/tok/app:1`);
    const keyring = CredentialKeyring.fromEntries([
      { key: guarded.host, credential: { ...credentials, source: "robot.json" } },
    ]);

    await withClient({ keyring }, async (client) => {
      for (let i = 0; i < 3; i += 1) expect((await client.resolve(reference)).digest).toBe(image.digest);
      expect(tokens.issued).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      await client.resolve(reference);
      expect(tokens.issued).toBe(2);
    });

    const anonymous = await withClient({}, (client) => failureOf(client.resolve(reference)));
    expect(anonymous.kind).toBe("auth");
  });
});

describe("faults: retries, backoff and deadlines", () => {
  it("waits out a 429 with Retry-After and then succeeds", async () => {
    const image = await pushImage(registry, { repository: "fault/a", tag: "1" });
    const proxy = await startFaultProxy(registry, ({ count }) =>
      count === 1
        ? { status: 429, headers: { "retry-after": "1" }, body: '{"errors":[{"code":"TOOMANYREQUESTS"}]}' }
        : "pass",
    );
    cleanups.push(() => proxy.close());
    const started = Date.now();
    const resolved = await withClient({}, (client) =>
      client.resolve(parseReference(`${proxy.host}/fault/a:1`)),
    );
    expect(resolved.digest).toBe(image.digest);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("gives up on persistent 500s after bounded retries with kind network", async () => {
    let requests = 0;
    const proxy = await startFaultProxy(registry, () => {
      requests += 1;
      return { status: 500, body: "boom" };
    });
    cleanups.push(() => proxy.close());
    const failure = await withClient({ maxRetries: 2 }, (client) =>
      failureOf(client.resolve(parseReference(`${proxy.host}/fault/a:1`))),
    );
    expect(failure.kind).toBe("network");
    expect(requests).toBe(3);
  });

  it("falls back to GET and hashes the manifest when HEAD is refused", async () => {
    const image = await pushImage(registry, { repository: "fault/head", tag: "1" });
    const proxy = await startFaultProxy(registry, ({ method }) =>
      method === "HEAD" ? { status: 405 } : "pass",
    );
    cleanups.push(() => proxy.close());
    await withClient({}, async (client) => {
      const byTag = await client.resolve(parseReference(`${proxy.host}/fault/head:1`), { withSize: true });
      expect(byTag).toMatchObject({ digest: image.digest, platformSize: image.platformSize });
      const byDigest = await client.resolve(parseReference(`${proxy.host}/fault/head@${image.digest}`));
      expect(byDigest.digest).toBe(image.digest);
    });
  });

  it("refuses content that does not hash to the digest it was fetched by", async () => {
    const image = await pushImage(registry, { repository: "fault/forged", tag: "1" });
    const forged = JSON.stringify({ schemaVersion: 2, manifests: [] });
    const proxy = await startFaultProxy(registry, ({ method }) =>
      method === "HEAD"
        ? { status: 405 }
        : { status: 200, headers: { "content-type": OCI_INDEX }, body: forged },
    );
    cleanups.push(() => proxy.close());
    const failure = await withClient({}, (client) =>
      failureOf(client.resolve(parseReference(`${proxy.host}/fault/forged@${image.digest}`))),
    );
    expect(failure.kind).toBe("invalid");
    expect(failure.message).toContain(`not the requested ${image.digest}`);
  });

  it("retries a connection reset", async () => {
    const image = await pushImage(registry, { repository: "fault/b", tag: "1" });
    const proxy = await startFaultProxy(registry, ({ count }) => (count === 1 ? "reset" : "pass"));
    cleanups.push(() => proxy.close());
    const resolved = await withClient({}, (client) =>
      client.resolve(parseReference(`${proxy.host}/fault/b:1`)),
    );
    expect(resolved.digest).toBe(image.digest);
  });

  it("ends a hanging request at the deadline with kind timeout", async () => {
    const proxy = await startFaultProxy(registry, () => "hang");
    cleanups.push(() => proxy.close());
    const started = Date.now();
    const failure = await withClient({ requestTimeoutMs: 1_000 }, (client) =>
      failureOf(client.resolve(parseReference(`${proxy.host}/fault/a:1`))),
    );
    expect(failure.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("mirrors", () => {
  it("follows a hosts.toml mirror when the pod's registry is unreachable", async () => {
    const image = await pushImage(registry, { repository: "mirrored/app", tag: "3" });
    const unreachable = "127.0.0.1:9";
    const hosts = await loadRegistryHosts(
      await hostsDir({
        [unreachable]: `[host."http://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n`,
      }),
    );
    const resolved = await withClient({ hosts }, (client) =>
      client.resolve(parseReference(`${unreachable}/mirrored/app:3`)),
    );
    expect(resolved.digest).toBe(image.digest);
    const without = await withClient({}, (client) =>
      failureOf(client.resolve(parseReference(`${unreachable}/mirrored/app:3`))),
    );
    expect(without.kind).toBe("network");
  });

  it("uses an explicit mirror before the registry", async () => {
    const image = await pushImage(registry, { repository: "mirrored/flag", tag: "1" });
    const resolved = await withClient({ mirrors: { "registry.invalid": [registry.url] } }, (client) =>
      client.resolve(parseReference("registry.invalid/mirrored/flag:1")),
    );
    expect(resolved.digest).toBe(image.digest);
  });
});

describe("hosts.toml override_path: a mirror that serves the API under its own path", () => {
  const prefix = "/artifactory/api/docker/remote";
  const upstream = "registry.invalid";

  it("resolves through the path as written, and containerd pulls through the same hosts.toml", async () => {
    const image = await pushImage(registry, { repository: "prefixed/app", tag: "1" });
    const proxy = await startPrefixProxy(registry, prefix);
    cleanups.push(() => proxy.close());
    const mirror = (override: boolean): string =>
      `server = "http://127.0.0.1:9"\n[host."${proxy.url}"]\n  capabilities = ["pull", "resolve"]\n${override ? "  override_path = true\n" : ""}`;
    const reference = parseReference(`${upstream}/prefixed/app:1`);

    const hosts = await loadRegistryHosts(await hostsDir({ [upstream]: mirror(true) }));
    const resolved = await withClient({ hosts }, (client) => client.resolve(reference, { withSize: true }));
    expect(resolved.digest).toBe(image.digest);
    expect(resolved.platformSize).toBe(image.platformSize);
    expect(proxy.paths).toContain(`${prefix}/prefixed/app/manifests/1?ns=${upstream}`);

    // Without override_path the mirror gets /v2 appended, as containerd does, and 404s.
    proxy.paths.length = 0;
    const appended = await loadRegistryHosts(await hostsDir({ [upstream]: mirror(false) }));
    await withClient({ hosts: appended }, (client) => failureOf(client.resolve(reference)));
    expect(proxy.paths).toEqual([`${prefix}/v2/prefixed/app/manifests/1?ns=${upstream}`]);

    const containerd = await startContainerd();
    cleanups.push(() => containerd.stop());
    await mkdir(join(containerd.certsDir, upstream), { recursive: true });
    await writeFile(join(containerd.certsDir, upstream, "hosts.toml"), mirror(true));
    const runtime = createCriClient({ endpoint: containerd.endpoint });
    try {
      await runtime.pullImage(`${upstream}/prefixed/app:1`);
      const recorded = await runtime.imageStatus(`${upstream}/prefixed/app:1`);
      expect(recorded?.repoDigests).toContain(`${upstream}/prefixed/app@${resolved.digest}`);
    } finally {
      runtime.close();
    }
  });

  it("applies a top-level override_path to the server itself", async () => {
    const image = await pushImage(registry, { repository: "prefixed/server", tag: "2" });
    const proxy = await startPrefixProxy(registry, prefix);
    cleanups.push(() => proxy.close());
    const hosts = await loadRegistryHosts(
      await hostsDir({ [upstream]: `server = "${proxy.url}"\noverride_path = true\n` }),
    );
    const resolved = await withClient({ hosts }, (client) =>
      client.resolve(parseReference(`${upstream}/prefixed/server:2`)),
    );
    expect(resolved.digest).toBe(image.digest);
    expect(proxy.paths).toEqual([`${prefix}/prefixed/server/manifests/2`]);
  });
});
