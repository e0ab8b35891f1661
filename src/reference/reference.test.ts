import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../failure/index.ts";
import {
  DEFAULT_TAG,
  effectiveTag,
  familiarReference,
  formatReference,
  InvalidReferenceError,
  isLoopbackRegistry,
  kubeletImageString,
  manifestReference,
  parseDigest,
  parseReference,
  registryApiHost,
  repositoryName,
  withDefaultTag,
} from "./index.ts";

const HEX64 = "a".repeat(64);
const D256 = `sha256:${"0123456789abcdef".repeat(4)}`;
const D512 = `sha512:${"0123456789abcdef".repeat(8)}`;

describe("parseReference: valid references", () => {
  it.each([
    ["nginx", "docker.io", "library/nginx", undefined, undefined],
    ["nginx:1.25", "docker.io", "library/nginx", "1.25", undefined],
    ["docker.io/nginx", "docker.io", "library/nginx", undefined, undefined],
    ["index.docker.io/nginx", "docker.io", "library/nginx", undefined, undefined],
    ["docker.io/library/nginx:latest", "docker.io", "library/nginx", "latest", undefined],
    ["bitnami/redis:7", "docker.io", "bitnami/redis", "7", undefined],
    ["localhost/app", "localhost", "app", undefined, undefined],
    ["localhost:5000/team/app:v1", "localhost:5000", "team/app", "v1", undefined],
    ["127.0.0.1:5000/x", "127.0.0.1:5000", "x", undefined, undefined],
    ["[::1]:5000/x:1", "[::1]:5000", "x", "1", undefined],
    ["[2001:db8::1]/x", "[2001:db8::1]", "x", undefined, undefined],
    ["ghcr.io/acme/api:v1.4.2", "ghcr.io", "acme/api", "v1.4.2", undefined],
    ["Registry.Example.com/app", "Registry.Example.com", "app", undefined, undefined],
    ["Foo/bar", "Foo", "bar", undefined, undefined],
    ["a__b/c--d/e.f_g", "docker.io", "a__b/c--d/e.f_g", undefined, undefined],
    ["a---b", "docker.io", "library/a---b", undefined, undefined],
    [`redis@${D256}`, "docker.io", "library/redis", undefined, D256],
    [`ghcr.io/a/b:v1@${D256}`, "ghcr.io", "a/b", "v1", D256],
    [`ghcr.io/a/b@${D512}`, "ghcr.io", "a/b", undefined, D512],
    [`${HEX64}:v1`, "docker.io", `library/${HEX64}`, "v1", undefined],
    ["localhost:5000", "docker.io", "library/localhost", "5000", undefined],
    [`x:${"t".repeat(128)}`, "docker.io", "library/x", "t".repeat(128), undefined],
    ["x:_Tag.1-2", "docker.io", "library/x", "_Tag.1-2", undefined],
  ])("%s", (input, domain, path, tag, digest) => {
    expect(parseReference(input)).toEqual({ domain, path, tag, digest });
  });

  it("accepts a repository path of 255 characters, whatever the registry's name adds", () => {
    // distribution/reference bounds the path (RepositoryNameTotalLengthMax), not domain plus path.
    const path = `p/${"a".repeat(253)}`;
    const host = "registry.example.com:5000";
    expect(parseReference(`${host}/${path}:v1`).path).toHaveLength(255);
    expect(repositoryName(parseReference(`${host}/${path}`))).toHaveLength(host.length + 1 + 255);
    // Docker Hub's implied library/ counts: 247 + "library/" is 255.
    expect(parseReference("a".repeat(247)).path).toHaveLength(255);
  });
});

describe("parseReference: invalid references name the problem", () => {
  it.each([
    ["", "empty reference"],
    ["Nginx", "repository name must be lowercase"],
    ["docker.io/Library/nginx", "repository name must be lowercase"],
    ["a___b", 'path component "a___b" has an invalid separator'],
    ["a-", 'path component "a-" must start and end with a lowercase letter or digit'],
    ["-a", "must start and end with a lowercase letter or digit"],
    ["a._b", "invalid separator"],
    ["a//b", "empty path component"],
    ["ghcr.io/", "empty path component"],
    ["a/b/", "empty path component"],
    [HEX64, "a 64-character hexadecimal string is an image ID"],
    ["nginx@", "'@' must be followed by a digest"],
    ["nginx:", "':' must be followed by a tag"],
    ["nginx:-x", 'invalid tag "-x"'],
    [`nginx:${"t".repeat(129)}`, "tag is longer than 128 characters"],
    ["nginx@sha256:abc", "sha256 digest must have 64 hex characters, not 3"],
    [`nginx@sha256:${"A".repeat(64)}`, "digest hex must be lowercase"],
    [`nginx@md5:${"a".repeat(32)}`, 'unsupported digest algorithm "md5"'],
    ["nginx@latest", "expected algorithm:hex"],
    ["host:port/x", 'registry port "port" must be a number'],
    ["bad_host.io/x", 'registry host label "bad_host"'],
    ["ngi nx", "whitespace is not allowed"],
    ["ngin$x", 'invalid character "$"'],
  ])("%j → %s", (input, reason) => {
    expect(() => parseReference(input)).toThrow(InvalidReferenceError);
    try {
      parseReference(input);
    } catch (error) {
      expect((error as InvalidReferenceError).reason).toContain(reason);
      expect((error as Error).message).toContain(`"${input}"`);
    }
  });

  it("rejects a repository path over 255 characters", () => {
    expect(() => parseReference(`ghcr.io/p/${"a".repeat(254)}`)).toThrow(/repository path is 256 characters/);
    expect(() => parseReference("a".repeat(248))).toThrow(/limit is 255/);
  });

  it("is an input error naming the reference", () => {
    try {
      parseReference("Bad Ref");
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).reference).toBe("Bad Ref");
    }
    expect.assertions(2);
  });

  it("reports where the problem is", () => {
    try {
      parseReference("ghcr.io/acme/Api:v1");
    } catch (error) {
      expect((error as InvalidReferenceError).offset).toBe(13);
      expect((error as Error).message).toContain("at character 14");
    }
    expect.assertions(2);
  });
});

describe("forms", () => {
  it("formats canonical and familiar forms", () => {
    const ref = parseReference(`nginx:1.25@${D256}`);
    expect(formatReference(ref)).toBe(`docker.io/library/nginx:1.25@${D256}`);
    expect(familiarReference(ref)).toBe(`nginx:1.25@${D256}`);
    expect(familiarReference(parseReference("bitnami/redis"))).toBe("bitnami/redis");
    expect(familiarReference(parseReference("ghcr.io/a/b:1"))).toBe("ghcr.io/a/b:1");
    expect(formatReference(withDefaultTag(parseReference("nginx")))).toBe("docker.io/library/nginx:latest");
    expect(formatReference(withDefaultTag(parseReference(`nginx@${D256}`)))).toBe(
      `docker.io/library/nginx@${D256}`,
    );
  });

  it("states kubelet's default tag in one place", () => {
    expect(effectiveTag(parseReference("nginx"))).toBe(DEFAULT_TAG);
    expect(effectiveTag(parseReference("nginx:1"))).toBe("1");
    expect(effectiveTag(parseReference(`nginx@${D256}`))).toBeUndefined();
    expect(effectiveTag(parseReference(`nginx:1@${D256}`))).toBe("1");
    expect(manifestReference(parseReference("nginx"))).toBe("latest");
    expect(manifestReference(parseReference(`nginx:1@${D256}`))).toBe(D256);
  });

  it("gives the string kubelet hands to ImageStatus", () => {
    expect(kubeletImageString("nginx")).toBe("nginx:latest");
    expect(kubeletImageString("nginx:1")).toBe("nginx:1");
    expect(kubeletImageString(`nginx@${D256}`)).toBe(`nginx@${D256}`);
    expect(kubeletImageString("localhost:5000/a")).toBe("localhost:5000/a:latest");
    expect(kubeletImageString("Not Valid")).toBe("Not Valid");
  });

  it("knows registry API hosts and loopback registries", () => {
    expect(registryApiHost(parseReference("nginx"))).toBe("registry-1.docker.io");
    expect(registryApiHost(parseReference("ghcr.io/a/b"))).toBe("ghcr.io");
    for (const host of ["localhost", "localhost:5000", "127.0.0.1", "127.1.2.3:80", "[::1]", "[::1]:5000"]) {
      expect(isLoopbackRegistry(host)).toBe(true);
    }
    for (const host of ["ghcr.io", "10.0.0.1:5000", "128.0.0.1", "localhost.example.com", "[::2]:5000"]) {
      expect(isLoopbackRegistry(host)).toBe(false);
    }
  });

  it("parses digests", () => {
    expect(parseDigest(D512)).toEqual({ algorithm: "sha512", hex: D512.slice(7) });
    expect(() => parseDigest("sha256:xyz")).toThrow(/invalid digest "sha256:xyz"/);
  });
});

const alnum = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const componentWith = (separators: string[]) =>
  fc
    .tuple(alnum, fc.array(fc.tuple(fc.constantFrom(...separators), alnum), { maxLength: 2 }))
    .map(([head, rest]) => head + rest.map(([sep, part]) => sep + part).join(""));
const component = componentWith([".", "_", "__", "-", "--"]);
// Without a registry in front, a first component with a dot would be read as a host.
const firstComponent = componentWith(["_", "__", "-", "--"]);
const domain = fc.option(
  fc.constantFrom(
    "ghcr.io",
    "localhost",
    "localhost:5000",
    "127.0.0.1:5000",
    "[::1]:5000",
    "registry.example.com:443",
  ),
  { nil: undefined },
);
const tag = fc.option(fc.stringMatching(/^\w[\w.-]{0,20}$/), { nil: undefined });
const digest = fc.option(
  fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`),
  { nil: undefined },
);
const validReference = fc
  .tuple(domain, firstComponent, fc.array(component, { maxLength: 2 }), tag, digest)
  .map(([d, head, path, t, dg]) => {
    const name = [...(d === undefined ? [] : [d]), head, ...path].join("/");
    return `${name}${t === undefined ? "" : `:${t}`}${dg === undefined ? "" : `@${dg}`}`;
  })
  .filter((text) => !/^[a-f0-9]{64}$/.test(text));

describe("properties", () => {
  it("format ∘ parse round-trips and is idempotent", () => {
    fc.assert(
      fc.property(validReference, (text) => {
        const ref = parseReference(text);
        const canonical = formatReference(ref);
        expect(parseReference(canonical)).toEqual(ref);
        expect(formatReference(parseReference(canonical))).toBe(canonical);
      }),
    );
  });

  it("the familiar form reads back to the same reference", () => {
    fc.assert(
      fc.property(validReference, (text) => {
        const ref = parseReference(text);
        expect(parseReference(familiarReference(ref))).toEqual(ref);
      }),
    );
  });

  it("arbitrary strings either parse or raise InvalidReferenceError", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const outcome = (() => {
          try {
            return parseReference(text);
          } catch (error) {
            return error;
          }
        })();
        expect(outcome instanceof InvalidReferenceError || typeof outcome === "object").toBe(true);
        if (outcome instanceof Error) expect(outcome).toBeInstanceOf(InvalidReferenceError);
      }),
    );
  });
});
