import { z } from "zod";
import type { KubeApi } from "./api.ts";

/** `[NAMESPACE/]NAME` of a DaemonSet; without a namespace, the pod's own. */
export interface DaemonSetName {
  readonly namespace?: string;
  readonly name: string;
}

// RFC 1123 labels (namespaces) and subdomains (DaemonSet names), as the API server validates them.
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Parses `[NAMESPACE/]NAME`; throws a message naming the bad value. */
export function parseDaemonSetName(text: string): DaemonSetName {
  const parts = text.trim().split("/");
  const [namespace, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  const valid =
    parts.length <= 2 &&
    name !== undefined &&
    name.length <= 253 &&
    SUBDOMAIN.test(name) &&
    (namespace === undefined || (namespace.length <= 63 && LABEL.test(namespace)));
  if (!valid) {
    throw new Error(`invalid DaemonSet "${text}": expected [NAMESPACE/]NAME, e.g. prepull/prepull-agent`);
  }
  return namespace === undefined ? { name } : { namespace, name };
}

const daemonSetStatusSchema = z.object({
  status: z.object({ desiredNumberScheduled: z.number().int().nonnegative() }),
});

/** How many nodes the DaemonSet controller wants an agent on (`status.desiredNumberScheduled`). */
export async function desiredAgents(
  api: KubeApi,
  daemonSet: DaemonSetName,
  defaultNamespace: string,
): Promise<number> {
  const namespace = daemonSet.namespace ?? defaultNamespace;
  const path = `/apis/apps/v1/namespaces/${namespace}/daemonsets/${daemonSet.name}`;
  const found = await api.get(path, daemonSetStatusSchema);
  return found.status.desiredNumberScheduled;
}
