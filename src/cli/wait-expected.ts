import { InvalidArgumentError } from "commander";
import type { ExpectedAgents } from "../cluster/index.ts";
// eslint-disable-next-line no-restricted-imports -- start-up speed: the parser alone, not the folder's face; the API client loads only when a wait needs it.
import { parseDaemonSetName, type DaemonSetName } from "../kube/daemonset.ts";
import type { KubeApi } from "../kube/index.ts";
import { errorMessage } from "../failure/index.ts";

export function daemonSetArgument(value: string): DaemonSetName {
  try {
    return parseDaemonSetName(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

interface Connection {
  readonly api: KubeApi;
  readonly namespace: string;
}

/**
 * The agents a wait expects: as many as the DaemonSet's controller schedules, read from the API
 * server as the pod's service account on every round. Any failure is that round's `error`, so the
 * wait falls back to --min-agents and says why.
 */
export function daemonSetExpectation(
  daemonSet: DaemonSetName,
  requestTimeoutMs: number,
): { expected: ExpectedAgents; close(): Promise<void> } {
  let connection: Connection | undefined;
  const connect = async (): Promise<Connection> => {
    const { connectKubeApi, inClusterConfig } = await import("../kube/index.ts");
    const config = await inClusterConfig();
    return { api: connectKubeApi(config, requestTimeoutMs), namespace: config.namespace };
  };
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
