import type { IContainerStatus } from "kubernetes-models/v1/ContainerStatus";
import type { Event, KubeApi, List, Pod } from "./api.ts";

const POLL_MS = 250;

export async function createNamespace(
  api: KubeApi,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await api.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
  // The service-account controller must have made `default` before a pod can be admitted.
  await waitFor(
    `service account default in ${name}`,
    async () => (await api.find(`/api/v1/namespaces/${name}/serviceaccounts/default`)) !== undefined,
  );
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A pod's events, oldest first, as `Reason: message` lines. */
export async function podEvents(api: KubeApi, namespace: string, name: string): Promise<Event[]> {
  const selector = encodeURIComponent(`involvedObject.kind=Pod,involvedObject.name=${name}`);
  const list = await api.get<List<Event>>(`/api/v1/namespaces/${namespace}/events?fieldSelector=${selector}`);
  return list.items.sort((a, b) =>
    String(a.lastTimestamp ?? a.eventTime).localeCompare(String(b.lastTimestamp ?? b.eventTime)),
  );
}

export function eventLines(events: readonly Event[]): string[] {
  return events.map((event) => `${event.reason ?? "?"}: ${event.message ?? ""}`);
}

/** Polls the pod until `predicate` holds; on timeout the error shows its status and events. */
export async function waitForPod(
  api: KubeApi,
  namespace: string,
  name: string,
  what: string,
  predicate: (pod: Pod) => boolean,
  timeoutMs = 60_000,
): Promise<Pod> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = await api.get<Pod>(`/api/v1/namespaces/${namespace}/pods/${name}`);
    if (predicate(pod)) return pod;
    if (Date.now() > deadline) {
      const events = eventLines(await podEvents(api, namespace, name));
      throw new Error(
        `pod ${namespace}/${name} did not become ${what} within ${String(timeoutMs)} ms:\n` +
          `status: ${JSON.stringify(pod.status, null, 1)}\nevents:\n${events.join("\n")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Every container status of the pod: init, regular and ephemeral. */
export function allStatuses(pod: Pod): IContainerStatus[] {
  const status = pod.status ?? {};
  return [
    ...(status.initContainerStatuses ?? []),
    ...(status.containerStatuses ?? []),
    ...(status.ephemeralContainerStatuses ?? []),
  ];
}

export function statusOf(pod: Pod, container: string): IContainerStatus | undefined {
  return allStatuses(pod).find((status) => status.name === container);
}

/** The reason a container waits (`ErrImageNeverPull`, `ContainerCreating`…), if it does. */
export function waitingReason(pod: Pod, container: string): string | undefined {
  return statusOf(pod, container)?.state?.waiting?.reason;
}

export function isRunning(pod: Pod, container: string): boolean {
  return statusOf(pod, container)?.state?.running !== undefined;
}

export function isReady(pod: Pod): boolean {
  return (
    pod.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ===
    true
  );
}

/** Deletes the pod at once and waits until the API server no longer has it. */
export async function deletePod(api: KubeApi, namespace: string, name: string): Promise<void> {
  await api.delete(`/api/v1/namespaces/${namespace}/pods/${name}`, { gracePeriodSeconds: 0 });
  await waitFor(
    `pod ${namespace}/${name} to be gone`,
    async () => (await api.find(`/api/v1/namespaces/${namespace}/pods/${name}`)) === undefined,
  );
}

/**
 * Creates a pod that stops at once when deleted and mounts no API token (nothing in it talks to
 * the API server): `spec` holds the containers and volumes the test is about.
 */
export async function createPod(
  api: KubeApi,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  await api.create(`/api/v1/namespaces/${namespace}/pods`, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: { terminationGracePeriodSeconds: 0, automountServiceAccountToken: false, ...spec },
  });
}
