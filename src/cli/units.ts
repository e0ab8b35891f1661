const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses durations as kubectl and crictl write them (Go syntax: `30s`, `5m`, `1h30m`, `1.5h`). */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === "0") return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let offset = 0;
  while (offset < input.length) {
    part.lastIndex = offset;
    const match = part.exec(input);
    if (match === null) {
      throw new Error(
        `invalid duration "${text}": expected a number with a unit (ms, s, m, h), e.g. 30s or 1h30m`,
      );
    }
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ""] ?? 0);
    offset = part.lastIndex;
  }
  if (input.length === 0) throw new Error(`invalid duration "${text}": empty`);
  return total;
}

export function formatSeconds(seconds: number): string {
  return seconds < 10 ? `${seconds.toFixed(2)}s` : `${seconds.toFixed(1)}s`;
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
