// Go's time.ParseDuration units (kubectl and crictl read durations with it), in milliseconds.
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3, // micro sign
  "\u03bcs": 1e-3, // Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Node's timers hold a signed 32-bit count of milliseconds; longer delays fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export class DurationError extends Error {
  readonly reason: string;

  constructor(text: string, reason: string) {
    super(`invalid duration "${text}": ${reason}`);
    this.name = "DurationError";
    this.reason = reason;
  }
}

/**
 * Reads a duration the way Go's time.ParseDuration does (`30s`, `1h30m`, `1.5h`, `300ms`, `.5s`,
 * `0`); returns milliseconds. Negative durations and those beyond a timer's range are refused here
 * rather than left for setTimeout to turn into 1 ms.
 */
export function parseDuration(text: string): number {
  const fail = (reason: string): never => {
    throw new DurationError(text, reason);
  };
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-");
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") fail(text === "" ? "empty" : "a sign needs a number and a unit after it");
  const part = /(\d*)(?:\.(\d*))?([^\d.]*)/y;
  let total = 0;
  while (rest.length > 0) {
    part.lastIndex = 0;
    const match = part.exec(rest);
    const [whole = "", digits = "", fraction, unit = ""] = match ?? [];
    if (digits === "" && (fraction ?? "") === "") {
      fail("expected a number with a unit (ms, s, m, h), e.g. 30s or 1h30m");
    }
    if (unit === "") fail(`missing unit after "${digits}${fraction === undefined ? "" : `.${fraction}`}"`);
    const scale = UNIT_MS[unit];
    if (scale === undefined) fail(`unknown unit "${unit}" (use ns, us, ms, s, m or h)`);
    total += Number(`${digits || "0"}.${fraction ?? ""}0`) * (scale ?? 0);
    rest = rest.slice(whole.length);
  }
  if (negative && total > 0) fail("must not be negative");
  if (total > MAX_TIMER_MS) fail(`longer than the longest timer Node can set (about 24.8 days)`);
  return total;
}

/** `0.04s`, `12.3s`, `2m05s`: rounded for people. */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(2)}s`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  const rest = String(whole % 60).padStart(2, "0");
  return minutes < 60
    ? `${minutes}m${rest}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m${rest}s`;
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "-";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit] ?? ""}`;
}

/** `1 warning`, `2 warnings`. */
export function countOf(count: number, noun: string): string {
  return `${String(count)} ${noun}${count === 1 ? "" : "s"}`;
}

/** `file:line`, or the file alone when the line is not known. */
export function formatLocation(file: string, line: number | undefined): string {
  return line === undefined ? file : `${file}:${String(line)}`;
}

/** Seconds for JSON: milliseconds are enough, float noise is not (`0.036680947000000005`). */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
