import { describe, expect, it } from "vitest";
import { parseChallenge } from "./challenge.ts";

describe("WWW-Authenticate challenges", () => {
  it("parses bearer and basic challenges", () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"',
      ),
    ).toEqual({
      scheme: "bearer",
      params: {
        realm: "https://auth.example.com/token",
        service: "registry.example.com",
        scope: "repository:a/b:pull",
      },
    });
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({
      scheme: "basic",
      params: { realm: "Registry Realm" },
    });
    expect(parseChallenge("Negotiate abc")).toBeUndefined();
  });

  it("reads any scheme case, bare values, spaces after commas and escaped quotes", () => {
    expect(
      parseChallenge('BEARER realm=https://auth.example.com/token, Service="a \\"b\\"",scope="x,y"'),
    ).toEqual({
      scheme: "bearer",
      params: { realm: "https://auth.example.com/token", service: 'a "b"', scope: "x,y" },
    });
  });

  it("gives nothing for a missing header and no parameters for a bare scheme", () => {
    expect(parseChallenge(undefined)).toBeUndefined();
    expect(parseChallenge("Basic")).toEqual({ scheme: "basic", params: {} });
  });
});
