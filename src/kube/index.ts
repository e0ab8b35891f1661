export { connectKubeApi, type KubeApi, type PatchType } from "./api.ts";
export { desiredAgents, parseDaemonSetName, type DaemonSetName } from "./daemonset.ts";
export { inClusterConfig, NotInClusterError, type InClusterConfig } from "./in-cluster.ts";
export {
  getNode,
  recordPodEvent,
  removeNodeTaint,
  setNodeCondition,
  type NodeCondition,
  type NodeObject,
  type PodRef,
  type Taint,
} from "./node.ts";
