import { errorMessage } from "../failure/index.ts";
import type { DaemonSetName, KubeApi } from "../kube/index.ts";
import type { ExpectedAgents } from "./wait.ts";

/** The API server as the pod's service account, and the namespace a name without one is in. */
export interface KubeConnection {
  readonly api: KubeApi;
  readonly namespace: string;
}

/** The pod's own connection; the API client loads only when a wait needs it. */
async function inClusterConnection(requestTimeoutMs: number): Promise<KubeConnection> {
  const { connectKubeApi, inClusterConfig } = await import("../kube/index.ts");
  const config = await inClusterConfig();
  return { api: connectKubeApi(config, requestTimeoutMs), namespace: config.namespace };
}

/**
 * The agents a wait expects: as many as the DaemonSet's controller schedules, read from the API
 * server on every round over one connection, made on the first. Any failure is that round's
 * `error`, so the wait falls back to its minimum and says why.
 */
export function daemonSetExpectation(
  daemonSet: DaemonSetName,
  requestTimeoutMs: number,
  connect: () => Promise<KubeConnection> = () => inClusterConnection(requestTimeoutMs),
): { expected: ExpectedAgents; close(): Promise<void> } {
  let connection: KubeConnection | undefined;
  return {
    async expected() {
      try {
        connection ??= await connect();
        const { desiredAgents } = await import("../kube/index.ts");
        const count = await desiredAgents(connection.api, daemonSet, connection.namespace);
        const where = `${daemonSet.namespace ?? connection.namespace}/${daemonSet.name}`;
        return { count, source: `DaemonSet ${where} is scheduled on ${String(count)} nodes` };
      } catch (error) {
        return { error: errorMessage(error) };
      }
    },
    async close() {
      await connection?.api.close();
    },
  };
}
