export { connectKubeApi, KubeApiError, type KubeApi, type PatchType } from "./api.ts";
export { desiredAgents, parseDaemonSetName, type DaemonSetName } from "./daemonset.ts";
export {
  inClusterConfig,
  NotInClusterError,
  SERVICE_ACCOUNT_DIR,
  type InClusterConfig,
} from "./in-cluster.ts";
export {
  getNode,
  recordPodEvent,
  removeNodeTaint,
  setNodeCondition,
  taintMatches,
  type NodeCondition,
  type NodeObject,
  type PodRef,
  type Taint,
} from "./node.ts";
