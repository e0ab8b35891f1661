import { describe, expect, it } from "vitest";
import { formatBytes, formatSeconds, MAX_TIMER_MS, parseDuration, roundSeconds } from "./units.ts";

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["250ms", 250],
    ["0", 0],
    ["2m30s", 150_000],
    // Go's time.ParseDuration grammar (its own tests' cases, in milliseconds).
    ["+5s", 5_000],
    ["-0", 0],
    ["+0", 0],
    ["5.0s", 5_000],
    ["5.s", 5_000],
    [".5s", 500],
    ["1.004s", 1_004],
    ["10.5s4m", 250_500],
    ["1h2m3s4ms", 3_723_004],
    ["300ms", 300],
    ["11us", 0.011],
    ["12\u00b5s", 0.012],
    ["12\u03bcs", 0.012],
    ["10ns", 0.00001],
    ["39h9m14.425s", 140_954_425],
    ["0.3333333333333333333h", 1_200_000],
    ["0.100000000000000000000h", 360_000],
    ["596h31m23.647s", MAX_TIMER_MS],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each([
    "",
    "10",
    "5 m",
    "1d",
    "m",
    "-5s",
    "1h-5m",
    "-",
    ".",
    ".s",
    "+.s",
    "-.",
    "3",
    "s",
    "\uFFFD",
    "hello world",
    "1s2",
    " 1s",
  ])("rejects %j with a message naming it", (text) => {
    expect(() => parseDuration(text)).toThrow(`invalid duration "${text}"`);
  });
});

describe("parseDuration: bounds", () => {
  it("refuses what Node's timers cannot wait for instead of firing after 1 ms", () => {
    expect(() => parseDuration("600h")).toThrow(/longest timer/);
    expect(() => parseDuration("596h31m23.648s")).toThrow(/longest timer/);
    expect(() => parseDuration("9999999999999999999h")).toThrow(/longest timer/);
  });

  // A deliberate difference from Go, which reads "-2m3.4s": no flag here means anything by it.
  it("refuses negative durations", () => {
    expect(() => parseDuration("-2m3.4s")).toThrow(/must not be negative/);
    expect(() => parseDuration("-1ms")).toThrow(/must not be negative/);
  });
});

describe("seconds for people and for JSON", () => {
  it("rounds", () => {
    expect(formatSeconds(0.036680947000000005)).toBe("0.04s");
    expect(formatSeconds(42.25)).toBe("42.3s");
    expect(formatSeconds(125.4)).toBe("2m05s");
    expect(formatSeconds(3725)).toBe("1h02m05s");
    expect(roundSeconds(0.036680947000000005)).toBe(0.037);
  });
});

describe("formatBytes", () => {
  it("uses decimal units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(10_500_000)).toBe("10.5 MB");
    expect(formatBytes(undefined)).toBe("-");
  });
});
