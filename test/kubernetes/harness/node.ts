import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startContainerd, unmountUnder, type ContainerdInstance } from "../../sandbox/index.ts";
import { freePort, startDaemon, waitUntilReady, type Daemon } from "../../sandbox/processes.ts";
import type { KubeApi, List, Node } from "./api.ts";
import { createCgroupRoot, type CgroupRoot } from "./cgroups.ts";
import type { KubernetesComponents } from "./components.ts";
import { CLUSTER_DNS_IP, CLUSTER_DOMAIN } from "./cluster-dns.ts";
import { KUBERNETES_SERVICE_IP, type ControlPlane } from "./control-plane.ts";
import { routeServices, type ServiceRoute } from "./service-routes.ts";

const run = promisify(execFile);
const NODE_READY_TIMEOUT_MS = 90_000;
const DRAIN_TIMEOUT_MS = 30_000;

export interface NodeOptions {
  readonly name: string;
  /** The pause image, from the sandbox registry. */
  readonly sandboxImage: string;
  /** KubeletConfiguration fields over the harness's defaults (image GC, pulls, credential policy). */
  readonly kubeletConfig?: Record<string, unknown>;
  /** Where containerd's root goes, e.g. a small filesystem for image GC. */
  readonly containerdParentDir?: string;
  /** The node's pod network, when made before it (the first node's address serves the API); else its own. */
  readonly network?: PodNetwork;
  /** Where the cluster DNS answers, routed from the node's pods as CLUSTER_DNS_IP:53. */
  readonly dns?: { readonly host: string; readonly port: number };
}

export interface KubeNode {
  readonly name: string;
  readonly network: PodNetwork;
  readonly containerd: ContainerdInstance;
  readonly kubelet: Daemon;
  readonly kubeletConfigFile: string;
  /**
   * Deletes every pod and waits until kubelet has stopped their sandboxes, so no container,
   * network namespace or volume mount outlives the test; what kubelet leaves is killed.
   */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The pods of one node get addresses from a /24 of 198.18.0.0/15 (reserved for network tests)
 * that no other bridge on this machine routes, so clusters of parallel test runs never share one.
 * The bridge is made here with the gateway address, which is also the node's address: kubelet
 * will not report a loopback one, and without an address the API server cannot reach kubelet
 * (logs, exec, /configz).
 */
export interface PodNetwork {
  readonly bridge: string;
  readonly subnet: string;
  readonly nodeIp: string;
}

export async function createPodNetwork(): Promise<PodNetwork> {
  const { stdout } = await run("ip", ["-o", "-4", "route", "show"]);
  for (let attempt = 0; attempt < 64; attempt++) {
    const third = String(1 + Math.floor(Math.random() * 254));
    const subnet = `198.18.${third}.0/24`;
    if (stdout.includes(subnet)) continue;
    const network = { bridge: `pp-pods-${third}`, subnet, nodeIp: `198.18.${third}.1` };
    await run("ip", ["link", "add", network.bridge, "type", "bridge"]);
    await run("ip", ["address", "add", `${network.nodeIp}/24`, "dev", network.bridge]);
    await run("ip", ["link", "set", network.bridge, "up"]);
    return network;
  }
  throw new Error(
    "no free pod network in 198.18.0.0/16: remove the pp-pods-* bridges left by killed test runs",
  );
}

export async function removePodNetwork(network: PodNetwork): Promise<void> {
  await run("ip", ["link", "delete", network.bridge]).catch(() => undefined);
}

/** The Services the node's pods use, routed as kube-proxy would: the API server and the cluster DNS. */
function serviceRoutes(controlPlane: ControlPlane, dns: NodeOptions["dns"]): ServiceRoute[] {
  const api: ServiceRoute = {
    serviceIp: KUBERNETES_SERVICE_IP,
    servicePort: 443,
    protocol: "tcp",
    target: controlPlane.endpoint,
  };
  if (dns === undefined) return [api];
  const udp: ServiceRoute = { serviceIp: CLUSTER_DNS_IP, servicePort: 53, protocol: "udp", target: dns };
  return [api, udp, { ...udp, protocol: "tcp" }];
}

/** The bridge network of one node: a Linux bridge, addresses from host-local, no masquerading. */
function bridgeNetwork(options: NodeOptions, network: PodNetwork, dir: string): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: `prepull-${options.name}`,
    plugins: [
      {
        type: "bridge",
        bridge: network.bridge,
        isGateway: true,
        // A default route through the bridge: Service addresses are reached through the host.
        isDefaultGateway: true,
        ipMasq: false,
        ipam: { type: "host-local", ranges: [[{ subnet: network.subnet }]], dataDir: join(dir, "ipam") },
      },
    ],
  });
}

function kubeletConfiguration(
  options: NodeOptions,
  network: PodNetwork,
  cgroupRoot: string,
  containerd: ContainerdInstance,
  caCertPath: string,
  dir: string,
  ports: { kubelet: number; healthz: number },
): Record<string, unknown> {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: network.nodeIp,
    port: ports.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: ports.healthz,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: caCertPath },
    },
    authorization: { mode: "Webhook" },
    containerRuntimeEndpoint: containerd.endpoint,
    // These machines boot cgroup v1 (hybrid) without systemd as PID 1: kubelet ≥ 1.35 refuses v1
    // unless told, and creates pod cgroups itself.
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    cgroupRoot,
    failSwapOn: false,
    podCIDR: network.subnet,
    podLogsDir: join(dir, "pod-logs"),
    resolvConf: "/etc/resolv.conf",
    clusterDNS: [CLUSTER_DNS_IP],
    clusterDomain: CLUSTER_DOMAIN,
    // Only memory: a busy test disk must not evict the pods under test.
    evictionHard: { "memory.available": "50Mi" },
    nodeStatusUpdateFrequency: "2s",
    nodeStatusReportFrequency: "10s",
    maxPods: 50,
    ...options.kubeletConfig,
  };
}

/** One node: its own containerd 2.x (overlayfs, bridge CNI, the sandbox's pause image) and kubelet. */
export async function startNode(
  dir: string,
  options: NodeOptions,
  controlPlane: ControlPlane,
  api: KubeApi,
  components: KubernetesComponents,
): Promise<KubeNode> {
  await mkdir(join(dir, "kubelet"), { recursive: true });
  const containerd = await startContainerd({
    runtime: components.runtime.name,
    snapshotter: "overlayfs",
    kubelet: { sandboxImage: options.sandboxImage, cniBinDir: components.cniBinDir },
    ...(options.containerdParentDir === undefined ? {} : { parentDir: options.containerdParentDir }),
  });
  let kubelet: Daemon | undefined;
  let cgroupRoot: CgroupRoot | undefined;
  let network: PodNetwork | undefined;
  let unroute: (() => Promise<void>) | undefined;
  try {
    network = options.network ?? (await createPodNetwork());
    unroute = await routeServices(network.subnet, serviceRoutes(controlPlane, options.dns));
    cgroupRoot = await createCgroupRoot(`prepull-${options.name}-${network.bridge}`);
    await writeFile(join(containerd.cniConfDir, "10-prepull.conflist"), bridgeNetwork(options, network, dir));
    const kubeconfig = await controlPlane.pki.kubeconfig(`kubelet-${options.name}`, controlPlane.server, {
      user: `system:node:${options.name}`,
      groups: ["system:nodes"],
    });
    const [kubeletPort, healthzPort] = await Promise.all([freePort(), freePort()]);
    const kubeletConfigFile = join(dir, "kubelet-config.yaml");
    await writeFile(
      kubeletConfigFile,
      stringify(
        kubeletConfiguration(
          options,
          network,
          cgroupRoot.path,
          containerd,
          controlPlane.pki.caCertPath,
          dir,
          {
            kubelet: kubeletPort,
            healthz: healthzPort,
          },
        ),
      ),
    );
    kubelet = startDaemon(
      components.kubelet,
      [
        `--config=${kubeletConfigFile}`,
        `--kubeconfig=${kubeconfig}`,
        `--root-dir=${join(dir, "kubelet")}`,
        `--hostname-override=${options.name}`,
        `--node-ip=${network.nodeIp}`,
        "--v=2",
      ],
      join(dir, "kubelet.log"),
    );
    await waitUntilReady(
      `kubelet on ${options.name}`,
      kubelet,
      async () => nodeIsReady(api, options.name),
      NODE_READY_TIMEOUT_MS,
    );
    const started = kubelet;
    const cgroups = cgroupRoot;
    const podNetwork = network;
    const removeRoutes = unroute;
    return {
      name: options.name,
      network: podNetwork,
      containerd,
      kubelet: started,
      kubeletConfigFile,
      drain: () => drainNode(api, containerd),
      async stop() {
        await started.stop("SIGTERM", 10_000);
        await killTasks(containerd);
        const namespaces = await podNetworkNamespaces(containerd);
        await containerd.stop();
        await removeNetworkNamespaces(namespaces);
        await removeRoutes();
        await removePodNetwork(podNetwork);
        await cgroups.remove();
        await unmountUnder(dir);
      },
    };
  } catch (error) {
    await kubelet?.stop("SIGKILL");
    await killTasks(containerd);
    await containerd.stop();
    await cgroupRoot?.remove().catch(() => undefined);
    await unroute?.();
    if (network) await removePodNetwork(network);
    throw error;
  }
}

/** Ready, and the node lifecycle controller has lifted the not-ready taint so pods schedule. */
async function nodeIsReady(api: KubeApi, name: string): Promise<boolean> {
  const node = await api.find<Node>(`/api/v1/nodes/${name}`);
  const ready = node?.status?.conditions?.some(
    (condition) => condition.type === "Ready" && condition.status === "True",
  );
  const tainted = node?.spec?.taints?.some((taint) => taint.key.startsWith("node.kubernetes.io/"));
  return ready === true && tainted !== true;
}

async function runningTasks(containerd: ContainerdInstance): Promise<string[]> {
  const listed = await containerd.ctr(["tasks", "list", "--quiet"]).catch(() => "");
  return listed.split("\n").filter(Boolean);
}

async function drainNode(api: KubeApi, containerd: ContainerdInstance): Promise<void> {
  const namespaces = await api.get<List<{ metadata: { name: string } }>>("/api/v1/namespaces");
  await Promise.all(
    namespaces.items.map(({ metadata }) =>
      api.delete(`/api/v1/namespaces/${metadata.name}/pods`, { gracePeriodSeconds: 0 }),
    ),
  );
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while ((await runningTasks(containerd)).length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function killTasks(containerd: ContainerdInstance): Promise<void> {
  for (const task of await runningTasks(containerd)) {
    await containerd.ctr(["tasks", "kill", "--signal", "SIGKILL", task]).catch(() => undefined);
    await containerd.ctr(["tasks", "delete", "--force", task]).catch(() => undefined);
  }
}

/**
 * The network namespaces of the pod sandboxes containerd still holds. A stopped sandbox keeps its
 * namespace until kubelet's garbage collection removes the sandbox, which a teardown does not wait
 * for, so the harness removes them itself once containerd has stopped.
 */
async function podNetworkNamespaces(containerd: ContainerdInstance): Promise<string[]> {
  const listed = await containerd.ctr(["containers", "list", "--quiet"]).catch(() => "");
  const paths: string[] = [];
  for (const id of listed.split("\n").filter(Boolean)) {
    const info = await containerd.ctr(["containers", "info", id]).catch(() => "{}");
    const spec = (
      JSON.parse(info) as { Spec?: { linux?: { namespaces?: Array<{ type: string; path?: string }> } } }
    ).Spec;
    const path = spec?.linux?.namespaces?.find((namespace) => namespace.type === "network")?.path;
    if (path !== undefined && /^\/(var\/)?run\/netns\/cni-[\w-]+$/.test(path)) paths.push(path);
  }
  return [...new Set(paths)];
}

async function removeNetworkNamespaces(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    await run("umount", [path]).catch(() => undefined);
    await rm(path, { force: true });
  }
}
