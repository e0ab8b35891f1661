import { describe, expect, it } from "vitest";
import { formatHostPort, parseHostPort } from "./index.ts";

describe("parseHostPort", () => {
  it.each([
    ["0.0.0.0:8080", "0.0.0.0", 8080],
    [":8080", "", 8080],
    ["[::]:8080", "::", 8080],
    ["[fd00::7]:80", "fd00::7", 80],
    ["agents.prepull.svc:8080", "agents.prepull.svc", 8080],
    ["127.0.0.1:0", "127.0.0.1", 0],
    ["localhost:65535", "localhost", 65535],
  ])("%s", (text, host, port) => {
    expect(parseHostPort(text)).toEqual({ host, port });
  });

  it.each([
    "8080",
    "host",
    "host:",
    "host:port",
    "a:b:1",
    "[::1]:99999",
    "[zz::1]:80",
    "[::1]",
    " a:1",
    "a b:1",
    "a/b:1",
  ])("refuses %j", (text) => {
    expect(parseHostPort(text)).toBeUndefined();
  });

  it("formats IPv6 hosts in brackets", () => {
    expect(formatHostPort({ host: "fd00::7", port: 80 })).toBe("[fd00::7]:80");
    expect(formatHostPort({ host: "10.0.0.7", port: 8080 })).toBe("10.0.0.7:8080");
  });
});
