import { createServer, type Server } from "node:http";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMain, type CliRun } from "../cli/run-prepull.ts";
import { pushImage, startFaultProxy, startRegistry, type RegistryInstance } from "../sandbox/index.ts";
import { layoutBlobs, manifestBlobDigests, writeSet } from "./layout-files.ts";

const USER = "puller";
const PASSWORD = "Bundle-S3cret-Pa55word";
const WRONG = "Wr0ng-Bundle-Pa55word";
let secure: RegistryInstance;
let plain: RegistryInstance;
let dir: string;

beforeAll(async () => {
  [secure, plain] = await Promise.all([
    startRegistry({ tls: true, htpasswd: { username: USER, password: PASSWORD } }),
    startRegistry({ htpasswd: { username: USER, password: PASSWORD } }),
  ]);
  dir = await mkdtemp(join(tmpdir(), "prepull-bundle-creds-"));
});

afterAll(async () => {
  await Promise.all([secure.stop(), plain.stop(), rm(dir, { recursive: true, force: true })]);
});

async function dockerConfig(name: string, host: string, password: string): Promise<string> {
  const file = join(dir, name);
  const auth = Buffer.from(`${USER}:${password}`).toString("base64");
  await writeFile(file, JSON.stringify({ auths: { [host]: { auth } } }));
  return file;
}

/** containerd's certs.d for one registry: its https server and the CA that signed it. */
async function hostsDir(registry: RegistryInstance): Promise<string> {
  const certs = join(dir, "certs.d");
  await mkdir(join(certs, registry.host), { recursive: true });
  await writeFile(
    join(certs, registry.host, "hosts.toml"),
    `server = "https://${registry.host}"\n\n[host."https://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${registry.caCertPath ?? ""}"\n`,
  );
  return certs;
}

function expectNoSecret(runs: readonly CliRun[], ...more: string[]): void {
  const everything = [...runs.flatMap((r) => [r.stdout, r.stderr]), ...more].join("\n");
  expect(everything.length).toBeGreaterThan(200);
  for (const secret of [
    PASSWORD,
    WRONG,
    ...[PASSWORD, WRONG].map((p) => Buffer.from(`${USER}:${p}`).toString("base64")),
  ]) {
    expect(everything).not.toContain(secret);
  }
}

describe("bundle reaches registries as lock does", () => {
  it("uses credentials, hosts.toml and its CA over TLS, and never prints the credentials", async () => {
    const image = await pushImage(secure, {
      repository: "private/api",
      tag: "v1",
      layers: [{ size: 100_000, seed: "private-api" }],
    });
    const registryFlags = ["--registry-hosts-dir", await hostsDir(secure)];
    const good = await dockerConfig("good.json", secure.host, PASSWORD);
    const bad = await dockerConfig("bad.json", secure.host, WRONG);
    const set = await writeSet(dir, "private", [image.reference]);
    const lock = await runMain(["lock", set, "--docker-config", good, ...registryFlags]);
    expect(lock.code).toBe(0);

    const out = join(dir, "private.tar");
    const bundle = await runMain([
      "bundle",
      set,
      "-o",
      out,
      "--archive",
      "--docker-config",
      good,
      ...registryFlags,
    ]);
    expect(bundle.stderr).toBe("");
    expect(bundle.code).toBe(0);
    expect(bundle.stdout).toContain(`${image.repository}:v1`);

    const refused = await runMain([
      "bundle",
      set,
      "-o",
      join(dir, "refused"),
      "--docker-config",
      bad,
      ...registryFlags,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^prepull: auth: ${image.reference}: `));
    expect(refused.stderr).toContain(`check the credentials in ${bad}`);

    const anonymous = await runMain(["bundle", set, "-o", join(dir, "anonymous"), ...registryFlags]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain("prepull: auth: ");

    expectNoSecret([lock, bundle, refused, anonymous], await readFile(out, "latin1"));
  });

  it("follows a blob redirect to storage on another origin without the registry's credentials", async () => {
    const image = await pushImage(plain, {
      repository: "private/redirected",
      tag: "v1",
      layers: [
        { size: 150_000, seed: "redirected-a" },
        { size: 20_000, seed: "redirected-b" },
      ],
    });
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
    // Storage on its own origin serves blobs it reads from the registry, and notes what it was sent.
    const seen: Array<{ path: string; authorization: string | undefined }> = [];
    const storage: Server = createServer((req, res) => {
      seen.push({ path: req.url ?? "", authorization: req.headers.authorization });
      void request(`${plain.url}/v2/private/redirected/blobs/${(req.url ?? "").slice(1)}`, {
        headers: { authorization: basic },
        dispatcher: plain.dispatcher,
      }).then((answer) => {
        res.writeHead(answer.statusCode, { "content-length": String(answer.headers["content-length"]) });
        Readable.from(answer.body).pipe(res);
      });
    });
    await new Promise<void>((resolve) => storage.listen(0, "127.0.0.1", resolve));
    const address = storage.address();
    const storageUrl = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
    const registryRequests: Array<{ method: string; path: string }> = [];
    const front = await startFaultProxy(plain, ({ method, path }) => {
      registryRequests.push({ method, path });
      const blob = /\/blobs\/(sha256:[a-f0-9]{64})/.exec(path)?.[1];
      return method === "GET" && blob !== undefined
        ? { status: 307, headers: { location: `${storageUrl}/${blob}` } }
        : "pass";
    });
    try {
      const name = `${front.host}/private/redirected:v1`;
      const set = await writeSet(dir, "redirected", [{ image: name, digest: image.digest }]);
      const config = await dockerConfig("front.json", front.host, PASSWORD);
      const out = join(dir, "redirected-layout");
      const bundle = await runMain(["bundle", set, "-o", out, "--docker-config", config]);
      expect(bundle.stderr).toBe("");
      expect(bundle.code).toBe(0);
      const blobs = await manifestBlobDigests(plain, "private/redirected", image.digest);
      expect(seen.map((s) => s.path).sort()).toEqual(blobs.map((b) => `/${b}`).sort());
      expect(seen.every((s) => s.authorization === undefined)).toBe(true);
      expect(registryRequests.some((r) => r.path.includes("/manifests/"))).toBe(true);
      expect(await layoutBlobs(out)).toEqual([image.digest, ...blobs].sort());
      expectNoSecret([bundle]);
    } finally {
      await front.close();
      await new Promise((resolve) => {
        storage.closeAllConnections();
        storage.close(resolve);
      });
    }
  });
});
