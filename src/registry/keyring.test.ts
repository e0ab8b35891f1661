import { describe, expect, it } from "vitest";
import { parseReference } from "../reference/index.ts";
import { CredentialError, CredentialKeyring, parseDockerConfig } from "./keyring.ts";

function keyring(keys: string[]): CredentialKeyring {
  return CredentialKeyring.fromEntries(
    keys.map((key) => ({ key, credential: { username: key, password: "pw", source: "config.json" } })),
  );
}

function match(keys: string[], image: string): string[] {
  return keyring(keys)
    .lookup(parseReference(image))
    .map((credential) => credential.username);
}

describe("keyring matching follows kubelet", () => {
  it.each([
    [["registry.example.com"], "registry.example.com/app", ["registry.example.com"]],
    [["https://registry.example.com/v1/"], "registry.example.com/app", ["https://registry.example.com/v1/"]],
    [["registry.example.com"], "other.example.com/app", []],
    [["*.example.com"], "a.example.com/app", ["*.example.com"]],
    [["*.example.com"], "example.com/app", []],
    [["*.example.com"], "a.b.example.com/app", []],
    [["*.*.example.com"], "a.b.example.com/app", ["*.*.example.com"]],
    [["registry.example.com:5000"], "registry.example.com:5000/app", ["registry.example.com:5000"]],
    [["registry.example.com:5000"], "registry.example.com/app", []],
    [["registry.example.com"], "registry.example.com:5000/app", []],
    [["registry.example.com/team"], "registry.example.com/team/app", ["registry.example.com/team"]],
    [["registry.example.com/team"], "registry.example.com/teamwork/app", []],
    [["registry.example.com/team"], "registry.example.com/other/app", []],
    [["https://index.docker.io/v1/"], "nginx", ["https://index.docker.io/v1/"]],
    [["docker.io"], "bitnami/redis", ["docker.io"]],
    [["index.docker.io"], "ghcr.io/a/b", []],
  ])("%j matches %s → %j", (keys, image, expected) => {
    expect(match(keys, image)).toEqual(expected);
  });

  it("orders matches most specific first (reverse lexicographic)", () => {
    expect(
      match(
        ["registry.example.com", "registry.example.com/team", "registry.example.com/team/app"],
        "registry.example.com/team/app",
      ),
    ).toEqual(["registry.example.com/team/app", "registry.example.com/team", "registry.example.com"]);
  });
});

describe("key order and /v1/ stripping follow kubelet's keyring", () => {
  it("ranks keys by host and path, not by how they are written", () => {
    // Raw keys sort "registry…" before "https://…", which hands the host-wide key to a team repository.
    expect(
      match(["registry.example.com", "https://registry.example.com/team"], "registry.example.com/team/app"),
    ).toEqual(["https://registry.example.com/team", "registry.example.com"]);
    expect(
      match(
        ["registry.example.com/v2/", "http://registry.example.com/team/"],
        "registry.example.com/team/app",
      ),
    ).toEqual(["http://registry.example.com/team/", "registry.example.com/v2/"]);
  });

  it("strips a leading /v1/ or /v2/ only, never /v1 without a slash or a path that merely starts with v1", () => {
    expect(match(["https://registry.example.com/v1/"], "registry.example.com/app")).toEqual([
      "https://registry.example.com/v1/",
    ]);
    expect(match(["https://registry.example.com/v2/team"], "registry.example.com/team/app")).toEqual([
      "https://registry.example.com/v2/team",
    ]);
    expect(match(["https://registry.example.com/v1"], "registry.example.com/app")).toEqual([]);
    expect(match(["registry.example.com/v1team"], "registry.example.com/team/app")).toEqual([]);
    expect(match(["registry.example.com/v1team"], "registry.example.com/v1team/app")).toEqual([
      "registry.example.com/v1team",
    ]);
  });

  it("never strips /v1/ from the image's own path", () => {
    expect(match(["registry.example.com/team"], "registry.example.com/v1/team/app")).toEqual([]);
    // The key's own /v1/ goes (kubelet does this for keys written without a scheme too).
    expect(match(["registry.example.com/v1/team"], "registry.example.com/team/app")).toEqual([
      "registry.example.com/v1/team",
    ]);
  });
});

describe("docker config files", () => {
  const auth = Buffer.from("user:pa:ss").toString("base64");

  it("reads config.json and .dockerconfigjson, splitting auth at the first colon", () => {
    const ring = parseDockerConfig(
      JSON.stringify({ auths: { "ghcr.io": { auth } } }),
      "/secrets/.dockerconfigjson",
    );
    expect(ring.lookup(parseReference("ghcr.io/a/b"))).toEqual([
      { username: "user", password: "pa:ss", source: "/secrets/.dockerconfigjson" },
    ]);
  });

  it("reads the legacy .dockercfg map and identity tokens", () => {
    const ring = parseDockerConfig(
      JSON.stringify({
        "https://index.docker.io/v1/": { username: "u", password: "p", identitytoken: "idt" },
      }),
      ".dockercfg",
    );
    expect(ring.lookup(parseReference("library/nginx"))[0]).toMatchObject({
      username: "u",
      identityToken: "idt",
    });
  });

  it("names the file and never echoes secrets when a file is malformed", () => {
    expect(() => parseDockerConfig('{"auths": {"x": {"auth": "c2VjcmV0"}}}', "bad.json")).toThrow(
      CredentialError,
    );
    expect(() => parseDockerConfig('{"auths": {"x": {"auth": "c2VjcmV0"}}}', "bad.json")).toThrow(
      /bad\.json/,
    );
    try {
      parseDockerConfig('{"auths": {"x": {"password": "hunter2"', "broken.json");
    } catch (error) {
      expect((error as Error).message).toBe("broken.json: not valid JSON");
    }
    expect.assertions(3);
  });
});
