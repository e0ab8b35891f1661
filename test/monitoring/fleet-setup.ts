import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { renderKustomization } from "../deploy/kustomize.ts";
import { durationSeconds, readRules, SCRAPE_CONFIG, type RuleGroups } from "./shipped.ts";

// How fleet.test.ts sets up Prometheus from what deploy/ ships.

/**
 * The shipped annotation-based job, run as it is but for discovery: Debian's Prometheus is built
 * without Kubernetes discovery, so the pods it would list are given with the labels it would give
 * them, from deploy/base's agent pod (labels, annotations) and a warm-up Job pod beside it.
 */
export async function scrapeJob(port: number, node: string): Promise<unknown> {
  const shipped = parse(await readFile(SCRAPE_CONFIG, "utf8")) as {
    scrape_configs: Array<Record<string, unknown>>;
  };
  const { kubernetes_sd_configs: discovery, ...job } = shipped.scrape_configs[0] ?? {};
  if (JSON.stringify(discovery) !== JSON.stringify([{ role: "pod" }])) {
    throw new Error(`the shipped job discovers ${JSON.stringify(discovery)}, not pods`);
  }
  const daemonSet = renderKustomization(resolve("deploy/base")).find(
    (o) => o.kind === "DaemonSet",
  ) as unknown as {
    spec: { template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> } } };
  };
  const { labels, annotations } = daemonSet.spec.template.metadata;
  const meta = (prefix: string, values: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(values).map(([k, v]) => [`${prefix}${k.replace(/[^a-zA-Z0-9_]/g, "_")}`, v]),
    );
  const pod = (name: string, podLabels: Record<string, string>) => ({
    // The pod role's address is the pod IP and a container port; the annotation picks the port.
    targets: ["127.0.0.1:1"],
    labels: {
      __meta_kubernetes_namespace: "prepull",
      __meta_kubernetes_pod_name: name,
      __meta_kubernetes_pod_node_name: node,
      __meta_kubernetes_pod_ip: "127.0.0.1",
      ...meta("__meta_kubernetes_pod_label_", podLabels),
      // The agent listens on a free port here, not on the pod's 8080.
      ...meta("__meta_kubernetes_pod_annotation_", { ...annotations, "prometheus.io/port": String(port) }),
    },
  });
  return {
    ...job,
    scrape_interval: "1s",
    scrape_timeout: "1s",
    static_configs: [
      pod("prepull-agent-x7k2p", labels),
      pod("prepull-warm-up-9q2lz", { ...labels, "app.kubernetes.io/component": "warm-up" }),
    ],
  };
}

/** rules.yaml with each `for:` divided by `scale`, so alerts fire within a test. */
export async function scaledRules(dir: string, scale: number): Promise<{ file: string; rules: RuleGroups }> {
  const rules = await readRules();
  const scaled: RuleGroups = {
    groups: rules.groups.map((group) => ({
      ...group,
      rules: group.rules.map((rule) =>
        rule.for === undefined ? rule : { ...rule, for: `${String(durationSeconds(rule.for) / scale)}s` },
      ),
    })),
  };
  const file = join(dir, "rules.yaml");
  await writeFile(file, stringify(scaled));
  return { file, rules: scaled };
}

/** Polls `probe` until it gives a value; fails naming `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
