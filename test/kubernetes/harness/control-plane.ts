import { readFile } from "node:fs/promises";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Agent, request } from "undici";
import { freePort, startDaemon, waitUntilReady, type Daemon } from "../../sandbox/processes.ts";
import type { KubernetesComponents } from "./components.ts";
import { createClusterPki, type ClusterPki } from "./pki.ts";

/**
 * The Service network. No kube-proxy runs: the harness routes the two Services pods use (the API
 * server's and the cluster DNS) itself (service-routes.ts); other ClusterIPs lead nowhere.
 */
export const SERVICE_CIDR = "198.19.0.0/24";
export const KUBERNETES_SERVICE_IP = "198.19.0.1";
const STARTUP_TIMEOUT_MS = 90_000;

export interface ControlPlane {
  readonly server: string;
  /** Where the API server listens: the first node's address, which its pods reach. */
  readonly endpoint: { readonly host: string; readonly port: number };
  readonly pki: ClusterPki;
  readonly adminKubeconfig: string;
  /** Every daemon with its name, for logs when something fails. */
  readonly daemons: ReadonlyArray<{ readonly name: string; readonly daemon: Daemon }>;
  /** Stops the controller manager and scheduler, so nothing recreates the pods a teardown deletes. */
  stopControllers(): Promise<void>;
  stop(): Promise<void>;
}

async function httpsReady(url: string, dispatcher: Agent): Promise<boolean> {
  const response = await request(url, { dispatcher, headersTimeout: 2_000, bodyTimeout: 2_000 });
  await response.body.dump();
  return response.statusCode === 200;
}

/**
 * etcd, kube-apiserver (authorization Node,RBAC; admission NodeRestriction and PodSecurity),
 * kube-controller-manager and kube-scheduler, each on a free port, in `dir`. The API server listens
 * on `address` (a node's address, not loopback: pods reach it there, and the endpoint reconciler
 * publishes it as the `kubernetes` Service's endpoint); the controllers on loopback.
 */
export async function startControlPlane(
  dir: string,
  components: KubernetesComponents,
  address: string,
): Promise<ControlPlane> {
  await mkdir(join(dir, "pki"), { recursive: true });
  const [etcdPort, etcdPeerPort, apiPort, controllerPort, schedulerPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const server = `https://${address}:${String(apiPort)}`;
  const pki = await createClusterPki(join(dir, "pki"), [
    "IP:127.0.0.1",
    `IP:${address}`,
    `IP:${KUBERNETES_SERVICE_IP}`,
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
  ]);
  const [adminKubeconfig, controllerKubeconfig, schedulerKubeconfig] = await Promise.all([
    pki.kubeconfig("admin", server, { user: "prepull-test-admin", groups: ["system:masters"] }),
    pki.kubeconfig("controller-manager", server, { user: "system:kube-controller-manager" }),
    pki.kubeconfig("scheduler", server, { user: "system:kube-scheduler" }),
  ]);
  const daemons: Array<{ name: string; daemon: Daemon }> = [];
  const start = (name: string, binary: string, args: string[]): Daemon => {
    const daemon = startDaemon(binary, args, join(dir, `${name}.log`));
    daemons.push({ name, daemon });
    return daemon;
  };
  const stop = async (): Promise<void> => {
    for (const { daemon } of [...daemons].reverse()) await daemon.stop("SIGTERM", 5_000);
  };

  try {
    const etcdUrl = `http://127.0.0.1:${String(etcdPort)}`;
    const etcd = start("etcd", components.etcd, [
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${String(etcdPeerPort)}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${String(etcdPeerPort)}`,
      `--initial-cluster=default=http://127.0.0.1:${String(etcdPeerPort)}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    await waitUntilReady("etcd", etcd, async () => {
      const response = await request(`${etcdUrl}/health`, { headersTimeout: 1_000 });
      return (await response.body.text()).includes('"health":"true"');
    });

    const apiserver = start("kube-apiserver", components.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${String(apiPort)}`,
      `--tls-cert-file=${pki.apiserver.certPath}`,
      `--tls-private-key-file=${pki.apiserver.keyPath}`,
      `--client-ca-file=${pki.caCertPath}`,
      `--kubelet-client-certificate=${pki.apiserverKubeletClient.certPath}`,
      `--kubelet-client-key=${pki.apiserverKubeletClient.keyPath}`,
      // Reach kubelets by address: a node's name resolves nowhere, and no lookup leaves the machine.
      "--kubelet-preferred-address-types=InternalIP",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.serviceAccountPublicKeyPath}`,
      `--service-account-signing-key-file=${pki.serviceAccountKeyPath}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      "--authorization-mode=Node,RBAC",
      "--enable-admission-plugins=NodeRestriction,PodSecurity",
      "--allow-privileged=true",
      "--v=1",
    ]);
    const admin = new Agent({
      connect: {
        ca: await readFile(pki.caCertPath),
        cert: await readFile(join(pki.dir, "admin.crt")),
        key: await readFile(join(pki.dir, "admin.key")),
      },
    });
    try {
      await waitUntilReady(
        "kube-apiserver",
        apiserver,
        () => httpsReady(`${server}/readyz`, admin),
        STARTUP_TIMEOUT_MS,
      );
    } finally {
      await admin.close();
    }

    const controllerManager = start("kube-controller-manager", components.kubeControllerManager, [
      `--kubeconfig=${controllerKubeconfig}`,
      `--authentication-kubeconfig=${controllerKubeconfig}`,
      `--authorization-kubeconfig=${controllerKubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${String(controllerPort)}`,
      "--leader-elect=false",
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${pki.serviceAccountKeyPath}`,
      `--root-ca-file=${pki.caCertPath}`,
      `--cluster-signing-cert-file=${pki.caCertPath}`,
      `--cluster-signing-key-file=${join(pki.dir, "ca.key")}`,
      "--v=1",
    ]);
    const scheduler = start("kube-scheduler", components.kubeScheduler, [
      `--kubeconfig=${schedulerKubeconfig}`,
      `--authentication-kubeconfig=${schedulerKubeconfig}`,
      `--authorization-kubeconfig=${schedulerKubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${String(schedulerPort)}`,
      "--leader-elect=false",
      "--v=1",
    ]);
    // Their serving certificates are self-signed; only liveness is asked of them.
    const insecure = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      await Promise.all([
        waitUntilReady(
          "kube-controller-manager",
          controllerManager,
          () => httpsReady(`https://127.0.0.1:${String(controllerPort)}/healthz`, insecure),
          STARTUP_TIMEOUT_MS,
        ),
        waitUntilReady(
          "kube-scheduler",
          scheduler,
          () => httpsReady(`https://127.0.0.1:${String(schedulerPort)}/healthz`, insecure),
          STARTUP_TIMEOUT_MS,
        ),
      ]);
    } finally {
      await insecure.close();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const stopControllers = async (): Promise<void> => {
    for (const { name, daemon } of daemons) {
      if (name === "kube-controller-manager" || name === "kube-scheduler")
        await daemon.stop("SIGTERM", 5_000);
    }
  };
  return {
    server,
    endpoint: { host: address, port: Number(apiPort) },
    pki,
    adminKubeconfig,
    daemons,
    stopControllers,
    stop,
  };
}
