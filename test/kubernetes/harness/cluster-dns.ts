import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { request } from "undici";
import { freePort, startDaemon, waitUntilReady, type Daemon } from "../../sandbox/processes.ts";
import type { KubernetesComponents } from "./components.ts";
import type { ControlPlane } from "./control-plane.ts";

/** The cluster DNS Service's address, as kubelet hands it to pods (`clusterDNS`). */
export const CLUSTER_DNS_IP = "198.19.0.10";
export const CLUSTER_DOMAIN = "cluster.local";
const READY_TIMEOUT_MS = 30_000;

export interface ClusterDns {
  /** Where CoreDNS answers (UDP and TCP); pods reach it as CLUSTER_DNS_IP:53. */
  readonly endpoint: { readonly host: string; readonly port: number };
  readonly daemon: Daemon;
  stop(): Promise<void>;
}

/**
 * CoreDNS with its kubernetes plugin, as the cluster DNS: Services and their endpoints from the
 * API server (read with the admin's kubeconfig), on `address` and a free port. Ready when the
 * plugin has synced (its `ready` endpoint answers 200).
 */
export async function startClusterDns(
  dir: string,
  components: KubernetesComponents,
  controlPlane: ControlPlane,
  address: string,
): Promise<ClusterDns> {
  await mkdir(dir, { recursive: true });
  const [port, readyPort] = await Promise.all([freePort(), freePort()]);
  const corefile = join(dir, "Corefile");
  await writeFile(
    corefile,
    [
      `.:${String(port)} {`,
      `  bind ${address}`,
      "  errors",
      `  ready 127.0.0.1:${String(readyPort)}`,
      `  kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {`,
      `    kubeconfig ${controlPlane.adminKubeconfig}`,
      "    pods insecure",
      "    fallthrough in-addr.arpa ip6.arpa",
      "  }",
      "}",
      "",
    ].join("\n"),
  );
  const daemon = startDaemon(components.coredns, ["-conf", corefile], join(dir, "coredns.log"));
  try {
    await waitUntilReady(
      "CoreDNS",
      daemon,
      async () => {
        const response = await request(`http://127.0.0.1:${String(readyPort)}/ready`, {
          headersTimeout: 1_000,
        });
        await response.body.dump();
        return response.statusCode === 200;
      },
      READY_TIMEOUT_MS,
    );
  } catch (error) {
    await daemon.stop("SIGKILL");
    throw error;
  }
  return { endpoint: { host: address, port }, daemon, stop: () => daemon.stop("SIGTERM", 5_000) };
}
