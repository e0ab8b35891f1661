import { stringify } from "yaml";
import type { RenderOptions } from "../kubernetes/helm-support.ts";

// The combinations of charts/prepull's values the chart tests render: each runtime, the disk guard
// with pins on and off, air-gapped paths, private registries, monitoring, another release and
// namespace, ImageSets as YAML and as text, the readiness gate in either mode.

const WEB_SET = {
  apiVersion: "prepull/v1",
  kind: "ImageSet",
  metadata: { name: "web" },
  spec: {
    images: [
      "ghcr.io/acme/web:2.0",
      { image: "ghcr.io/acme/api:v1.4.2", digest: `sha256:${"b".repeat(64)}`, pin: false },
    ],
  },
};

export interface Combination {
  readonly values: Record<string, unknown>;
  readonly release?: RenderOptions;
}

export const COMBINATIONS: Readonly<Record<string, Combination>> = {
  defaults: { values: {} },
  "CRI-O with the disk guard, pins off": {
    values: { runtime: { type: "cri-o" }, diskGuard: { enabled: true }, pinning: { enabled: false } },
  },
  "k3s with the disk guard, a pin budget and private registries": {
    values: {
      runtime: { type: "k3s" },
      diskGuard: { enabled: true, threshold: 85 },
      pinning: { budget: 30 },
      registryCredentials: { secretName: "pull-secrets" },
    },
  },
  "containerd air-gapped, with sockets, mirrors and the image filesystem elsewhere": {
    values: {
      runtime: { socketDir: "/var/run/containerd-alt", socketName: "cri.sock" },
      registryHosts: { enabled: true, dir: "/etc/containerd/mirrors.d" },
      diskGuard: { enabled: true, imageFsDir: "/mnt/images/prepull-statfs" },
    },
  },
  "monitoring, an existing PriorityClass, resources, tolerations and nodes of the operator's": {
    values: {
      monitoring: { enabled: true, labels: { release: "kube-prometheus-stack" } },
      priorityClass: { create: false, name: "system-node-critical" },
      resources: { requests: { cpu: "20m", memory: "96Mi" }, limits: { memory: "192Mi" } },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
      nodeSelector: { "kubernetes.io/os": "linux" },
      networkPolicy: { prometheusNamespace: "observability" },
      maxUnavailable: 2,
    },
  },
  "no PriorityClass, no warm-up RBAC, agent settings, the image by digest": {
    values: {
      priorityClass: { create: false },
      warmUp: { rbac: false },
      agent: { resync: "5m", concurrency: 8, env: { PREPULL_SPREAD: "2m", PREPULL_LOG_LEVEL: "debug" } },
      image: {
        repository: "registry.example.com/mirror/prepull",
        tag: "0.1.0",
        digest: `sha256:${"a".repeat(64)}`,
      },
    },
  },
  "ImageSets as YAML and as text, several files": {
    values: {
      imageSets: {
        "example.yaml": null,
        "web.yaml": WEB_SET,
        "platform.yml": stringify({
          ...WEB_SET,
          metadata: { name: "platform" },
          spec: { images: ["redis:7"] },
        }),
      },
    },
  },
  "another release in another namespace": { values: {}, release: { release: "edge", namespace: "infra" } },
  "the readiness gate in the agent, in another release and namespace, its own taint, no deadline": {
    values: {
      readinessGate: {
        mode: "agent",
        taint: "example.com/images-warm:NoExecute",
        deadline: 0,
        atDeadline: "hold",
      },
    },
    release: { release: "edge", namespace: "infra" },
  },
  "the readiness gate in the agent, on k3s, with the disk guard and no warm-up RBAC": {
    values: {
      readinessGate: { mode: "agent", deadline: "10m" },
      runtime: { type: "k3s" },
      diskGuard: { enabled: true },
      warmUp: { rbac: false },
    },
  },
  "the readiness gate through the Node Readiness Controller, its rule and a mirrored reporter": {
    values: {
      readinessGate: {
        mode: "nodeReadinessController",
        taint: "readiness.k8s.io/images-warm:PreferNoSchedule",
        atDeadline: "hold",
        reporterImage: `registry.example.com/mirror/node-readiness-reporter:v0.5.0@sha256:${"d".repeat(64)}`,
        nodeReadinessRule: { create: true },
      },
      monitoring: { enabled: true },
    },
    release: { release: "edge", namespace: "infra" },
  },
  "the readiness gate through the Node Readiness Controller, without its rule": {
    values: { readinessGate: { mode: "nodeReadinessController" }, fullnameOverride: "warm" },
  },
  fullnameOverride: { values: { fullnameOverride: "warm" } },
};

/** A combination by name; fails on a name that is not one. */
export function combination(name: string): Combination {
  const found = COMBINATIONS[name];
  if (found === undefined) throw new Error(`no combination ${name}`);
  return found;
}

export interface GateValues {
  mode?: "none" | "agent" | "nodeReadinessController";
  taint?: string;
  deadline?: string | number;
  atDeadline?: "open" | "hold";
  reporterImage?: string;
  nodeReadinessRule?: { create?: boolean };
}
export const gateOf = (values: Record<string, unknown>): GateValues =>
  (values.readinessGate as GateValues | undefined) ?? {};
/** The taints each mode removes when readinessGate.taint is empty (deploy/components/…). */
export const AGENT_TAINT = "startup-taint.cluster-autoscaler.kubernetes.io/prepull-warming:NoSchedule";
export const CONTROLLER_TAINT = "readiness.k8s.io/prepull-images-warm:NoSchedule";

/** A Role's or ClusterRole's rule. */
export interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}
