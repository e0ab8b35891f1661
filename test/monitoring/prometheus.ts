import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort, requireCommand, startDaemon, waitUntilReady } from "../sandbox/processes.ts";

/** One series of a query's answer: its labels, and its value or values as Prometheus gives them. */
export interface Series {
  readonly metric: Record<string, string>;
  readonly value?: [number, string];
  readonly values?: Array<[number, string]>;
}

export interface Alert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: "pending" | "firing";
  readonly activeAt: string;
  readonly value: string;
}

export interface Rule {
  readonly name: string;
  readonly type: "alerting" | "recording";
  readonly health: string;
  readonly lastError?: string;
  readonly query: string;
}

export interface Target {
  readonly labels: Record<string, string>;
  readonly discoveredLabels: Record<string, string>;
  readonly health: "up" | "down" | "unknown";
  readonly lastError: string;
}

export interface PrometheusInstance {
  readonly url: string;
  /** An instant query at `time` (seconds), or now. */
  query(expr: string, time?: number): Promise<Series[]>;
  queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<Series[]>;
  /** `label_values(metric, label)` as Grafana asks it: the series API's values of `label`. */
  labelValues(label: string, match: string): Promise<string[]>;
  alerts(): Promise<Alert[]>;
  rules(): Promise<Rule[]>;
  /** Active targets, and the discovered ones relabelling dropped. */
  targets(): Promise<{ active: Target[]; dropped: Array<{ discoveredLabels: Record<string, string> }> }>;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  readonly scrapeConfigs: readonly unknown[];
  readonly ruleFiles?: readonly string[];
  readonly scrapeInterval?: string;
  readonly evaluationInterval?: string;
}

/**
 * A real Prometheus (Debian's `prometheus`) on a free loopback port, with its storage in a
 * temporary directory. If it does not become ready, the error carries its log.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusInstance> {
  requireCommand("prometheus", "prometheus");
  const dir = await mkdtemp(join(tmpdir(), "prepull-prometheus-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${String(port)}`;
  const config = join(dir, "prometheus.yml");
  await writeFile(
    config,
    stringify({
      global: {
        scrape_interval: options.scrapeInterval ?? "1s",
        evaluation_interval: options.evaluationInterval ?? "1s",
      },
      rule_files: options.ruleFiles ?? [],
      scrape_configs: options.scrapeConfigs,
    }),
  );
  const daemon = startDaemon(
    "prometheus",
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${String(port)}`,
      "--log.level=info",
    ],
    join(dir, "prometheus.log"),
  );
  const remove = async (): Promise<void> => {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(
      "prometheus",
      daemon,
      async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok,
      30_000,
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const query = new URLSearchParams(params).toString();
    const response = await fetch(`${url}/api/v1/${path}${query === "" ? "" : `?${query}`}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== "success") {
      throw new Error(
        `prometheus ${path} ${JSON.stringify(params)}: ${body.errorType ?? ""}: ${body.error ?? ""}`,
      );
    }
    return body.data;
  };

  return {
    url,
    async query(expr, time) {
      const data = await api<{ result: Series[] }>("query", {
        query: expr,
        ...(time === undefined ? {} : { time: String(time) }),
      });
      return data.result;
    },
    async queryRange(expr, start, end, stepSeconds) {
      const data = await api<{ result: Series[] }>("query_range", {
        query: expr,
        start: String(start),
        end: String(end),
        step: String(stepSeconds),
      });
      return data.result;
    },
    async labelValues(label, match) {
      return api<string[]>(`label/${label}/values`, { "match[]": match });
    },
    async alerts() {
      return (await api<{ alerts: Alert[] }>("alerts")).alerts;
    },
    async rules() {
      const data = await api<{ groups: Array<{ rules: Rule[] }> }>("rules");
      return data.groups.flatMap((group) => group.rules);
    },
    async targets() {
      const data = await api<{
        activeTargets: Target[];
        droppedTargets: Array<{ discoveredLabels: Record<string, string> }>;
      }>("targets");
      return { active: data.activeTargets, dropped: data.droppedTargets };
    },
    logTail: (lines) => daemon.logTail(lines),
    stop: remove,
  };
}

/** `promtool ARGS`, with `stdin` piped in when given; never throws on a non-zero exit. */
export function promtool(
  args: readonly string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  requireCommand("promtool", "prometheus");
  return new Promise((resolve) => {
    const child = execFile("promtool", [...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}
