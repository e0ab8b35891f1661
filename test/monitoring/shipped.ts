import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";

/** What deploy/ ships for monitoring, read as Prometheus and Grafana read it. */
export const MONITORING = resolve("deploy/monitoring");
export const RULES_FILE = resolve(MONITORING, "rules.yaml");
export const RULES_TESTS = resolve(MONITORING, "rules.test.yaml");
export const SCRAPE_CONFIG = resolve(MONITORING, "scrape-config.yaml");
export const DASHBOARD = resolve(MONITORING, "grafana-dashboard.json");
export const DOCS_DASHBOARD = resolve("docs/grafana-dashboard.json");
export const COMPONENT = resolve("deploy/components/monitoring");

export interface RuleDefinition {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface RuleGroups {
  readonly groups: ReadonlyArray<{ readonly name: string; readonly rules: readonly RuleDefinition[] }>;
}

export interface DashboardTarget {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat?: string;
  readonly instant?: boolean;
  readonly format?: string;
  readonly datasource: { readonly type: string; readonly uid: string };
}

export interface DashboardPanel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly description?: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly targets?: readonly DashboardTarget[];
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly DashboardPanel[];
  readonly templating: {
    readonly list: ReadonlyArray<{
      readonly name: string;
      readonly type: string;
      readonly definition?: string;
    }>;
  };
}

export async function readRules(): Promise<RuleGroups> {
  return parse(await readFile(RULES_FILE, "utf8")) as RuleGroups;
}

export async function readDashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(DASHBOARD, "utf8")) as Dashboard;
}

export async function readYamlDocuments(file: string): Promise<unknown[]> {
  return parseAllDocuments(await readFile(file, "utf8")).map((document) => document.toJS() as unknown);
}

export const alertsOf = (rules: RuleGroups): RuleDefinition[] =>
  rules.groups.flatMap((group) => group.rules.filter((rule) => rule.alert !== undefined));

/**
 * A dashboard query as Grafana sends it: the node variable set to All, `$__rate_interval` to
 * `rateInterval` (Grafana makes it at least four scrape intervals).
 */
export const grafanaQuery = (expr: string, rateInterval: string): string =>
  expr.replaceAll("$__rate_interval", rateInterval).replaceAll("$node", ".*");

/** Durations as rules write them (`90s`, `10m`, `1h`), in seconds. */
export function durationSeconds(text: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(text);
  if (match === null) throw new Error(`unexpected duration ${text}`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as "s" | "m" | "h"];
}
