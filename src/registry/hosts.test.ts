import { describe, expect, it } from "vitest";
import { endpointLocation, parseHostsToml } from "./hosts.ts";

describe("endpoint URLs read as containerd reads them", () => {
  it.each([
    ["https://mirror.example.com", false, "https://mirror.example.com/v2"],
    ["https://mirror.example.com/", false, "https://mirror.example.com/v2"],
    ["mirror.example.com:5000", false, "https://mirror.example.com:5000/v2"],
    ["http://mirror.example.com/prefix", false, "http://mirror.example.com/prefix/v2"],
    ["http://mirror.example.com/prefix/v2", false, "http://mirror.example.com/prefix/v2"],
    ["http://mirror.example.com/a/../b//", false, "http://mirror.example.com/b/v2"],
    [
      "https://artifactory.example.com/artifactory/api/docker/remote",
      true,
      "https://artifactory.example.com/artifactory/api/docker/remote",
    ],
    ["https://harbor.example.com/v2/proxy-hub", true, "https://harbor.example.com/v2/proxy-hub"],
    ["https://mirror.example.com", true, "https://mirror.example.com"],
  ])("%s (override_path %s) → API root %s", (raw, overridePath, apiRoot) => {
    expect(endpointLocation(raw, overridePath).apiRoot).toBe(apiRoot);
  });

  it("drops user:password@ as containerd does, so it is never sent nor shown", () => {
    expect(endpointLocation("http://user:PASSWORD@mirror.example.com:5000/x", false)).toEqual({
      url: "http://mirror.example.com:5000/x",
      apiRoot: "http://mirror.example.com:5000/x/v2",
    });
  });
});

describe("hosts.toml", () => {
  it("applies override_path per host and at the top level for the server", () => {
    const config = parseHostsToml(
      [
        'server = "https://upstream.example.com/api"',
        "override_path = true",
        '[host."https://harbor.example.com/v2/proxy"]',
        '  capabilities = ["pull", "resolve"]',
        "  override_path = true",
        '[host."https://plain.example.com/cache"]',
      ].join("\n"),
      "docker.io",
      "/etc/containerd/certs.d/docker.io",
    );
    expect(config.endpoints.map((endpoint) => [endpoint.apiRoot, endpoint.mirror])).toEqual([
      ["https://harbor.example.com/v2/proxy", true],
      ["https://plain.example.com/cache/v2", true],
      ["https://upstream.example.com/api", false],
    ]);
  });

  it("never repeats a password from a host key in its errors", () => {
    expect(() =>
      parseHostsToml(
        '[host."http://user:PASSWORD@mirror.example.com"]\n  capabilities = "pull"\n',
        "docker.io",
        "/d",
      ),
    ).toThrow(/^\/d\/hosts\.toml: host\.http:\/\/\*\*\*@mirror\.example\.com\.capabilities: /);
    expect(() => parseHostsToml('server = "http://user:PASSWORD@[::1"\n', "docker.io", "/d")).toThrow(
      "/d/hosts.toml: http://***@[::1: not a URL",
    );
  });
});
