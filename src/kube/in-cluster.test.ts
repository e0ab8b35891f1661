import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inClusterConfig, NotInClusterError } from "./in-cluster.ts";

let dir: string;
const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "prepull-sa-"));
  await Promise.all([
    writeFile(join(dir, "ca.crt"), "-----BEGIN CERTIFICATE-----\n"),
    writeFile(join(dir, "namespace"), "prepull\n"),
    writeFile(join(dir, "token"), "secret-token"),
  ]);
});

afterEach(() => rm(dir, { recursive: true, force: true }));

describe("inClusterConfig", () => {
  it("finds the API server and the service account as kubelet gives them to a pod", async () => {
    const config = await inClusterConfig(env, dir);
    expect(config).toEqual({
      server: "https://[fd00::1]:443",
      caPem: "-----BEGIN CERTIFICATE-----\n",
      tokenFile: join(dir, "token"),
      namespace: "prepull",
    });
    // The token is read per request, never kept in the config (it rotates, and stays out of logs).
    expect(JSON.stringify(config)).not.toContain("secret-token");
  });

  it("says it is not in a pod when the service's address is missing or invalid", async () => {
    await expect(inClusterConfig({}, dir)).rejects.toThrow(NotInClusterError);
    await expect(inClusterConfig({ ...env, KUBERNETES_SERVICE_PORT: "http" }, dir)).rejects.toThrow(
      "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set",
    );
  });

  it("names the missing service account file and how to mount it", async () => {
    await rm(join(dir, "token"));
    await expect(inClusterConfig(env, dir)).rejects.toThrow(
      `no service account token in ${dir} (ENOENT): mount the pod's token (automountServiceAccountToken: true)`,
    );
  });
});
