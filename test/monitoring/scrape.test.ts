import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { renderKustomization, type KubeObject } from "../deploy/kustomize.ts";
import { COMPONENT, SCRAPE_CONFIG } from "./shipped.ts";

const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** deploy/base with the monitoring component, as an operator's overlay would combine them. */
async function renderWithMonitoring(): Promise<KubeObject[]> {
  const dir = await mkdtemp(join(tmpdir(), "prepull-monitoring-overlay-"));
  temps.push(dir);
  await writeFile(
    join(dir, "kustomization.yaml"),
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: [relative(dir, resolve("deploy/base"))],
      components: [relative(dir, COMPONENT)],
    }),
  );
  return renderKustomization(dir);
}

interface AgentPod {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: { containers: Array<{ name: string; ports: Array<{ name: string; containerPort: number }> }> };
}

function agentPod(objects: KubeObject[]): { pod: AgentPod; namespace: string | undefined } {
  const daemonSet = objects.find((o) => o.kind === "DaemonSet") as unknown as {
    metadata: { namespace?: string };
    spec: { template: AgentPod };
  };
  return { pod: daemonSet.spec.template, namespace: daemonSet.metadata.namespace };
}

const httpPort = (pod: AgentPod): number | undefined =>
  pod.spec.containers.find((c) => c.name === "agent")?.ports.find((p) => p.name === "http")?.containerPort;

/** A relabel `keep` rule as Prometheus applies it: source values joined by `;`, the regex anchored. */
const kept = (rule: { source_labels: string[]; regex: string }, labels: Record<string, string>): boolean =>
  new RegExp(`^(?:${rule.regex})$`).test(rule.source_labels.map((name) => labels[name] ?? "").join(";"));

/** Kubernetes pod discovery's label for a pod label or annotation name. */
const meta = (prefix: string, name: string): string => `${prefix}${name.replace(/[^a-zA-Z0-9_]/g, "_")}`;

describe("scraping the agents", () => {
  it("the PodMonitor selects the agent pods on their http port, as job prepull, labelled with their node", async () => {
    const objects = await renderWithMonitoring();
    const { pod, namespace } = agentPod(objects);
    const monitor = objects.find((o) => o.kind === "PodMonitor") as unknown as {
      metadata: { namespace: string };
      spec: {
        jobLabel: string;
        selector: { matchLabels: Record<string, string> };
        podMetricsEndpoints: Array<{
          port: string;
          path: string;
          relabelings: Array<{ sourceLabels: string[]; targetLabel: string }>;
        }>;
      };
    };
    expect(monitor.metadata.namespace).toBe(namespace);
    for (const [label, value] of Object.entries(monitor.spec.selector.matchLabels)) {
      expect(pod.metadata.labels[label]).toBe(value);
    }
    expect(pod.metadata.labels[monitor.spec.jobLabel]).toBe("prepull");
    expect(monitor.spec.podMetricsEndpoints).toHaveLength(1);
    const [endpoint] = monitor.spec.podMetricsEndpoints;
    expect(endpoint?.port).toBe("http");
    expect(httpPort(pod)).toBeDefined();
    expect(endpoint?.path).toBe("/metrics");
    expect(endpoint?.relabelings).toContainEqual(
      expect.objectContaining({ sourceLabels: ["__meta_kubernetes_pod_node_name"], targetLabel: "node" }),
    );
  });

  it("the agent pods carry the scrape annotations, and the shipped job keeps them and nothing else", async () => {
    const { pod } = agentPod(renderKustomization(resolve("deploy/base")));
    expect(pod.metadata.annotations).toEqual({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(httpPort(pod)),
      "prometheus.io/path": "/metrics",
    });
    const config = parse(await readFile(SCRAPE_CONFIG, "utf8")) as {
      scrape_configs: Array<{
        job_name: string;
        relabel_configs: Array<{ source_labels: string[]; regex: string; action?: string }>;
      }>;
    };
    expect(config.scrape_configs.map((job) => job.job_name)).toEqual(["prepull"]);
    const keeps = (config.scrape_configs[0]?.relabel_configs ?? []).filter((rule) => rule.action === "keep");
    const labelsOf = (podLabels: Record<string, string>, annotations: Record<string, string>) =>
      Object.fromEntries([
        ...Object.entries(podLabels).map(([k, v]) => [meta("__meta_kubernetes_pod_label_", k), v]),
        ...Object.entries(annotations).map(([k, v]) => [meta("__meta_kubernetes_pod_annotation_", k), v]),
      ]) as Record<string, string>;
    const agent = labelsOf(pod.metadata.labels, pod.metadata.annotations);
    expect(keeps.length).toBeGreaterThanOrEqual(2);
    expect(keeps.every((rule) => kept(rule, agent))).toBe(true);
    const warmUpJob = labelsOf(
      { ...pod.metadata.labels, "app.kubernetes.io/component": "warm-up" },
      pod.metadata.annotations,
    );
    expect(keeps.every((rule) => kept(rule, warmUpJob))).toBe(false);
    const unannotated = labelsOf(pod.metadata.labels, {});
    expect(keeps.every((rule) => kept(rule, unannotated))).toBe(false);
  });

  it("the ServiceMonitor docs/monitoring.md offers selects the agents' Service and its http port", async () => {
    const docs = await readFile("docs/monitoring.md", "utf8");
    const block = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((match) => match[1] ?? "")
      .find((text) => text.includes("kind: ServiceMonitor"));
    expect(block).toBeDefined();
    const [monitor] = parseAllDocuments(block ?? "").map((d) => d.toJS() as unknown) as Array<{
      spec: {
        jobLabel: string;
        selector: { matchLabels: Record<string, string> };
        endpoints: Array<{ port: string; path: string }>;
      };
    }>;
    const service = renderKustomization(resolve("deploy/base")).find(
      (o) => o.kind === "Service",
    ) as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { ports: Array<{ name: string }> };
    };
    for (const [label, value] of Object.entries(monitor?.spec.selector.matchLabels ?? { none: "" })) {
      expect(service.metadata.labels[label]).toBe(value);
    }
    expect(service.metadata.labels[monitor?.spec.jobLabel ?? ""]).toBe("prepull");
    expect(service.spec.ports.map((p) => p.name)).toContain(monitor?.spec.endpoints[0]?.port);
    expect(monitor?.spec.endpoints[0]?.path).toBe("/metrics");
  });
});
