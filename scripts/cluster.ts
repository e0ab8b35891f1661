// A real single-node Kubernetes for a person to use: the same cluster the cluster
// tests start (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, CoreDNS, containerd 2.x and
// kubelet). Run with `npm run cluster` (as root); Ctrl-C tears it all down.
import { componentVersions, startCluster } from "../test/kubernetes/harness/index.ts";

const started = Date.now();
process.stdout.write("Starting a single-node cluster…\n");
const cluster = await startCluster();
process.stdout.write(
  [
    `Up in ${((Date.now() - started) / 1000).toFixed(1)} s:`,
    ...componentVersions(cluster.components).map((line) => `  ${line}`),
    "",
    `API server      ${cluster.controlPlane.server}`,
    `node            ${cluster.node.name} (containerd at ${cluster.node.containerd.endpoint})`,
    `registry        ${cluster.registry.url} (plain HTTP; the node pulls from it)`,
    `logs            ${cluster.dir}`,
    "",
    `  export KUBECONFIG=${cluster.controlPlane.adminKubeconfig}`,
    `  ${cluster.components.kubectl} get nodes -o wide`,
    `  npx prepull status --runtime-endpoint ${cluster.node.containerd.endpoint} IMAGE`,
    "",
    "Ctrl-C stops it and removes everything.",
    "",
  ].join("\n"),
);
await new Promise<void>((resolve) => {
  process.once("SIGINT", resolve);
  process.once("SIGTERM", resolve);
});
// npm passes Ctrl-C on as well: a second signal must not cut the teardown short.
const stillStopping = (): void => {
  process.stdout.write("still stopping…\n");
};
process.on("SIGINT", stillStopping);
process.on("SIGTERM", stillStopping);
process.stdout.write("\nStopping…\n");
await cluster.stop();
process.stdout.write("Stopped; nothing is left running.\n");
