/** Terminal width tables are made to fit unless the user asks for `-o wide`. */
export const TABLE_WIDTH = 120;
const GAP = 2;
/** Columns are not shortened below this, so what is left still says something. */
const MIN_COLUMN = 12;

/** `ghcr.io/acme/…/api:v1`: the middle goes, the registry and the tag stay. */
export function elide(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return "…".slice(0, width);
  const head = Math.ceil((width - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (width - 1 - head))}`;
}

/**
 * Left-aligned columns separated by two spaces, as kubectl prints them. With `maxWidth`, the widest
 * columns are shortened (middles elided) until a line fits.
 */
export function formatTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  { maxWidth }: { maxWidth?: number } = {},
): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  if (maxWidth !== undefined) {
    const total = (): number => widths.reduce((sum, width) => sum + width, 0) + GAP * (widths.length - 1);
    while (total() > maxWidth) {
      const widest = widths.indexOf(Math.max(...widths));
      const floor = Math.max(MIN_COLUMN, header[widest]?.length ?? 0);
      if ((widths[widest] ?? 0) <= floor) break;
      widths[widest] = (widths[widest] ?? 0) - 1;
    }
  }
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        const fitted = elide(cell, width);
        return column === cells.length - 1 ? fitted : fitted.padEnd(width);
      })
      .join(" ".repeat(GAP))
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** `sha256:0123456789ab`: enough to tell digests apart in a table. */
export function shortDigest(digest: string | undefined | null): string {
  if (digest === undefined || digest === null) return "-";
  const [algorithm = "", hex = ""] = digest.split(":");
  return `${algorithm}:${hex.slice(0, 12)}`;
}
