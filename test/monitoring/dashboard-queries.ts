import type { PrometheusInstance, Series } from "./prometheus.ts";
import { grafanaQuery, type Dashboard, type DashboardPanel, type DashboardTarget } from "./shipped.ts";

/** One dashboard query's answer: over the window as a time-series panel asks, and now for instant ones. */
export interface TargetAnswer {
  readonly panel: DashboardPanel;
  readonly target: DashboardTarget;
  readonly query: string;
  readonly range: Series[];
  /** Only for instant targets (tables, stats, bar gauges), asked at the end of the window. */
  readonly instant: Series[] | undefined;
}

/**
 * Runs every target of every panel against `prometheus` as Grafana would: the node variable at
 * All, `$__rate_interval` as given. A query Prometheus refuses throws, naming the panel.
 */
export async function askEveryPanel(
  prometheus: PrometheusInstance,
  dashboard: Dashboard,
  window: { start: number; end: number; rateInterval: string },
): Promise<TargetAnswer[]> {
  const answers: TargetAnswer[] = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      const query = grafanaQuery(target.expr, window.rateInterval);
      try {
        answers.push({
          panel,
          target,
          query,
          range: await prometheus.queryRange(query, window.start, window.end, 1),
          instant: target.instant === true ? await prometheus.query(query, window.end) : undefined,
        });
      } catch (error) {
        throw new Error(`panel "${panel.title}" ${target.refId}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
  }
  return answers;
}

/** The labels a legend such as `{{node}}: {{state}}` names. */
export const legendLabels = (legend: string | undefined): string[] =>
  [...(legend ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((match) => match[1] as string);

/** Numeric values of a series, NaN and infinities left out (histogram_quantile of no pulls is NaN). */
export function finiteValues(series: Series): number[] {
  const raw = series.values ?? (series.value === undefined ? [] : [series.value]);
  return raw.map(([, value]) => Number(value)).filter((value) => Number.isFinite(value));
}

/**
 * What is wrong with one answer, or nothing: it must hold data (some finite value), and every
 * series must carry the labels its legend shows (or its table groups by).
 */
export function shapeProblems(answer: TargetAnswer): string[] {
  const problems: string[] = [];
  const name = `"${answer.panel.title}" ${answer.target.refId}`;
  // A table shows the labels its query groups by; a graph, those of its legend.
  const groupedBy = /\bby\s*\(([^)]*)\)/.exec(answer.target.expr)?.[1] ?? "";
  const labels =
    answer.target.format === "table"
      ? groupedBy
          .split(",")
          .map((label) => label.trim())
          .filter((label) => label !== "")
      : legendLabels(answer.target.legendFormat);
  for (const [kind, result] of [
    ["over the window", answer.range],
    ["now", answer.instant],
  ] as const) {
    if (result === undefined) continue;
    if (!result.some((series) => finiteValues(series).length > 0)) problems.push(`${name}: no data ${kind}`);
    for (const series of result) {
      for (const label of labels) {
        if (series.metric[label] === undefined) {
          problems.push(`${name}: a series ${kind} lacks label ${label}: ${JSON.stringify(series.metric)}`);
        }
      }
    }
  }
  return problems;
}
