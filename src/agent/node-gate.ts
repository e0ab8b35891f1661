import { InputError } from "../failure/index.ts";
import { NodeGateReporter, type GateLogger } from "../gate/index.ts";

/** What the agent tells the API server about its gate, without the Node Readiness Controller. */
export interface NodeGateConfig {
  /** Set the PrepullImagesWarm condition on the node's status. */
  readonly condition: boolean;
  /** The startup taint to remove from the node once the gate opens. */
  readonly taint?: { readonly key: string; readonly effect?: string } | undefined;
  /** The agent's pod, which the gate's events are about (in the namespace of its token). */
  readonly podName: string;
}

/** Each request to the API server is given this long. */
const API_TIMEOUT_MS = 10_000;

/**
 * The reporter, reaching the API server as the pod's service account; undefined when the agent
 * is told neither to set the condition nor to remove a taint (the API is then never contacted).
 * Outside a pod with a token, the flag that asked for it is named.
 */
export async function connectNodeGate(
  nodeName: string,
  gate: NodeGateConfig,
  logger: GateLogger,
): Promise<{ reporter: NodeGateReporter; close(): Promise<void> } | undefined> {
  if (!gate.condition && gate.taint === undefined) return undefined;
  const { connectKubeApi, inClusterConfig, NotInClusterError } = await import("../kube/index.ts");
  const config = await inClusterConfig().catch((error: unknown) => {
    if (!(error instanceof NotInClusterError)) throw error;
    const flag = gate.condition ? "--gate-node-condition" : "--gate-remove-taint";
    throw new InputError(`${flag} needs the API server: ${error.message}`, { field: flag });
  });
  const api = connectKubeApi(config, API_TIMEOUT_MS);
  const reporter = new NodeGateReporter(
    api,
    {
      nodeName,
      pod: { namespace: config.namespace, name: gate.podName },
      condition: gate.condition,
      ...(gate.taint ? { taint: gate.taint } : {}),
    },
    logger,
  );
  return { reporter, close: () => api.close() };
}
