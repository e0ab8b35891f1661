export { ApiError, connectApi, type Event, type KubeApi, type List, type Node, type Pod } from "./api.ts";
export { startCluster, WORKLOAD_ENTRYPOINT, type Cluster, type ClusterOptions } from "./cluster.ts";
export {
  BINARIES_VARIABLE,
  componentVersions,
  kubernetesComponents,
  type KubernetesComponents,
} from "./components.ts";
export { SERVICE_CIDR } from "./control-plane.ts";
export type { KubeNode } from "./node.ts";
export {
  allStatuses,
  createNamespace,
  createPod,
  deletePod,
  eventLines,
  isReady,
  isRunning,
  podEvents,
  statusOf,
  waitFor,
  waitForPod,
  waitingReason,
} from "./pods.ts";
