import {
  IGNORE_ANNOTATION,
  workloadName,
  type Finding,
  type ImageSource,
  type ScanResult,
  type Severity,
} from "../manifests/index.ts";
import { formatTable } from "./table.ts";
import { countOf, formatLocation } from "./units.ts";

/** The default table fits a 120-column terminal; `-o wide` prints values in full. */
const TABLE_WIDTH = 120;
const COLUMN_GAP = 2;
/**
 * How columns give way when a table is too wide, stage by stage: names of containers and
 * workloads first, the image (the point of the table) only when they cannot give more.
 */
const SHRINK_STAGES: ReadonlyArray<ReadonlyArray<readonly [column: number, floor: number]>> = [
  [
    [1, 16],
    [0, 24],
  ],
  [[2, 32]],
  [
    [0, 12],
    [1, 8],
    [2, 16],
  ],
];

/** Table labels: what kind of container, or an image volume, in a few letters. */
const SOURCE_SUFFIX: Readonly<Record<ImageSource, string>> = {
  container: "",
  initContainer: " (init)",
  ephemeralContainer: " (ephemeral)",
  imageVolume: " (volume)",
};

/** `…@sha256:0123456789ab`: twelve hex digits, as crictl shortens image ids. */
function shortDigest(image: string): string {
  return image.replace(/@(sha256|sha512):([a-f0-9]{12})[a-f0-9]+$/, "@$1:$2");
}

/** Keeps both ends of a value (registry and tag), eliding the middle. */
function elide(value: string, width: number): string {
  if (value.length <= width) return value;
  const head = Math.ceil((width - 1) / 2);
  return `${value.slice(0, head)}…${value.slice(value.length - (width - 1 - head))}`;
}

/** Narrows the widest column of each stage until the table fits, then elides what no longer fits. */
function fitRows(header: readonly string[], rows: string[][]): string[][] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const total = (): number => widths.reduce((sum, w) => sum + w, 0) + COLUMN_GAP * (widths.length - 1);
  for (const stage of SHRINK_STAGES) {
    while (total() > TABLE_WIDTH) {
      let widest: number | undefined;
      for (const [column, floor] of stage) {
        const width = widths[column] ?? 0;
        if (width > floor && (widest === undefined || width > (widths[widest] ?? 0))) widest = column;
      }
      if (widest === undefined) break;
      widths[widest] = (widths[widest] ?? 0) - 1;
    }
  }
  return rows.map((row) => row.map((cell, column) => elide(cell, widths[column] ?? cell.length)));
}

export function textReport(
  scan: ScanResult,
  allFindings: readonly Finding[],
  options: { wide: boolean },
): string {
  const findings = allFindings.filter((f) => !f.suppressed);
  const suppressed = allFindings.length - findings.length;
  const header = ["WORKLOAD", "CONTAINER", "IMAGE", "PULL POLICY"];
  const rows = scan.images.map((c) => [
    workloadName(c),
    `${c.container ?? "<unnamed>"}${SOURCE_SUFFIX[c.containerType]}`,
    options.wide ? c.nodeImage : shortDigest(c.nodeImage),
    c.declaredPolicy === undefined ? `${c.effectivePolicy} (default)` : c.effectivePolicy,
  ]);
  const volumes = scan.images.filter((c) => c.containerType === "imageVolume").length;
  const images = new Set(scan.images.map((c) => c.nodeImage)).size;
  const count = (severity: Severity): number => findings.filter((f) => f.severity === severity).length;
  const findingLines = findings.map(
    (f) =>
      `${formatLocation(f.file, f.line)}: ${f.severity} ${f.ruleId} ${f.rule}: ${f.workload} ${f.subject}: ${f.message}\n    fix: ${f.fix}\n`,
  );
  return (
    (rows.length > 0
      ? formatTable(header, options.wide ? rows : fitRows(header, rows))
      : "no containers found\n") +
    (findingLines.length > 0 ? `\n${findingLines.join("")}` : "") +
    `\n${countOf(scan.images.length - volumes, "container")}, ` +
    (volumes > 0 ? `${countOf(volumes, "image volume")}, ` : "") +
    `${countOf(images, "image")}; ` +
    `${countOf(count("error"), "error")}, ${countOf(count("warning"), "warning")}, ${countOf(count("info"), "note")}` +
    (suppressed > 0 ? ` (${String(suppressed)} more ignored by ${IGNORE_ANNOTATION} annotations)` : "") +
    "\n"
  );
}
