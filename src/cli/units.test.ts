import { describe, expect, it } from "vitest";
import { formatBytes, parseDuration } from "./units.ts";

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["250ms", 250],
    ["0", 0],
    ["2m30s", 150_000],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "10", "5 m", "1d", "m", "-5s", "1h-5m"])("rejects %j with a message naming it", (text) => {
    expect(() => parseDuration(text)).toThrow(`invalid duration "${text}"`);
  });
});

describe("formatBytes", () => {
  it("uses decimal units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(10_500_000)).toBe("10.5 MB");
    expect(formatBytes(undefined)).toBe("-");
  });
});
