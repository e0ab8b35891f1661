export { connectKubeApi, KubeApiError, type KubeApi } from "./api.ts";
export { desiredAgents, parseDaemonSetName, type DaemonSetName } from "./daemonset.ts";
export {
  inClusterConfig,
  NotInClusterError,
  SERVICE_ACCOUNT_DIR,
  type InClusterConfig,
} from "./in-cluster.ts";
