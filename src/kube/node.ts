import { z } from "zod";
import type { KubeApi } from "./api.ts";

/** A taint as the API server writes it. */
export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

const taintSchema = z.object({ key: z.string(), value: z.string().optional(), effect: z.string() }).loose();
const nodeSchema = z.object({
  metadata: z.object({ name: z.string(), uid: z.string() }).loose(),
  spec: z
    .object({ taints: z.array(taintSchema).optional() })
    .loose()
    .optional(),
  status: z
    .object({
      conditions: z.array(z.object({ type: z.string(), status: z.string() }).loose()).optional(),
    })
    .loose()
    .optional(),
});
export type NodeObject = z.infer<typeof nodeSchema>;
const anything = z.unknown();

export interface NodeCondition {
  readonly type: string;
  readonly status: "True" | "False";
  readonly reason: string;
  readonly message: string;
  /** When `status` last changed. */
  readonly lastTransitionTime: Date;
}

const nodePath = (name: string): string => `/api/v1/nodes/${encodeURIComponent(name)}`;

export function getNode(api: KubeApi, name: string): Promise<NodeObject> {
  return api.get(nodePath(name), nodeSchema);
}

/**
 * Sets one condition on the node's status; the other conditions (kubelet's, other agents') are
 * merged by type and left alone.
 */
export async function setNodeCondition(
  api: KubeApi,
  name: string,
  condition: NodeCondition,
  now: Date,
): Promise<void> {
  const patch = {
    status: {
      conditions: [
        {
          ...condition,
          lastHeartbeatTime: now.toISOString(),
          lastTransitionTime: condition.lastTransitionTime.toISOString(),
        },
      ],
    },
  };
  await api.patch(`${nodePath(name)}/status`, "strategic", patch, anything);
}

/** Whether `taint` matches `wanted`: the same key, and the same effect when one is named. */
function taintMatches(taint: Taint, wanted: { key: string; effect?: string | undefined }): boolean {
  return taint.key === wanted.key && (wanted.effect === undefined || taint.effect === wanted.effect);
}

/**
 * Removes the taints matching `wanted` from the node, if it has any; false when it had none.
 * A JSON patch that first tests the list it read: a concurrent change to the node's taints
 * (another controller's) makes it fail instead of undoing that change.
 */
export async function removeNodeTaint(
  api: KubeApi,
  node: NodeObject,
  wanted: { key: string; effect?: string | undefined },
): Promise<boolean> {
  const taints = node.spec?.taints ?? [];
  const kept = taints.filter((taint) => !taintMatches(taint, wanted));
  if (kept.length === taints.length) return false;
  await api.patch(
    nodePath(node.metadata.name),
    "json",
    [
      { op: "test", path: "/spec/taints", value: taints },
      { op: "replace", path: "/spec/taints", value: kept },
    ],
    anything,
  );
  return true;
}

/** The pod an event is about: the agent's own, whose namespace its token may write events in. */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * Records an event about `pod`, as `kubectl describe pod` and `kubectl get events` show them. (A
 * Node's own events must live in the default namespace, which would need a grant there.)
 */
export async function recordPodEvent(
  api: KubeApi,
  pod: PodRef,
  event: { type: "Normal" | "Warning"; reason: string; message: string },
  now: Date,
): Promise<void> {
  const at = now.toISOString();
  await api.create(
    `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/events`,
    {
      apiVersion: "v1",
      kind: "Event",
      metadata: { generateName: `${pod.name}.prepull-`, namespace: pod.namespace },
      involvedObject: { apiVersion: "v1", kind: "Pod", namespace: pod.namespace, name: pod.name },
      ...event,
      source: { component: "prepull" },
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    },
    anything,
  );
}
