import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  pushImage,
  startRegistry,
  type LayerSpec,
  type PushedImage,
  type RegistryInstance,
  unmountUnder,
} from "../../sandbox/index.ts";
import { connectApi, type KubeApi } from "./api.ts";
import { kubernetesComponents, type KubernetesComponents } from "./components.ts";
import { startControlPlane, type ControlPlane } from "./control-plane.ts";
import { startClusterDns, type ClusterDns } from "./cluster-dns.ts";
import { createPodNetwork, removePodNetwork, startNode, type KubeNode, type NodeOptions } from "./node.ts";

const run = promisify(execFile);

/** Where the workload program sits in every test image, and what it runs. */
export const WORKLOAD_ENTRYPOINT = ["/workload"];

export interface Cluster {
  readonly dir: string;
  readonly components: KubernetesComponents;
  /** The plain-HTTP sandbox registry the node pulls the pause image from. */
  readonly registry: RegistryInstance;
  readonly controlPlane: ControlPlane;
  readonly api: KubeApi;
  readonly dns: ClusterDns;
  /** The first node, whose address the API server and the cluster DNS listen on. */
  readonly node: KubeNode;
  /**
   * Starts another node (its own containerd, kubelet and pod network) that joins the cluster;
   * stopped with it. The pause image can be another, e.g. one no registry holds, so that no pod
   * starts there.
   */
  addNode(
    name: string,
    options?: {
      sandboxImage?: string;
      kubeletConfig?: Record<string, unknown>;
      containerdParentDir?: string;
    },
  ): Promise<KubeNode>;
  /** Pushes an image that runs the test workload, with optional extra data layers. */
  pushWorkloadImage(
    registry: RegistryInstance,
    repository: string,
    tag?: string,
    extraLayers?: LayerSpec[],
  ): Promise<PushedImage>;
  /** Runs kubectl as the admin; fails with what it printed when it exits non-zero. */
  kubectl(args: readonly string[], input?: string): Promise<{ stdout: string; stderr: string }>;
  /** The last lines of every component's log, for a failed test's report. */
  logTails(lines?: number): string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** KubeletConfiguration fields over the harness's defaults. */
  readonly kubeletConfig?: Record<string, unknown>;
  /** Where the node's containerd keeps its root (a small filesystem for image GC). */
  readonly containerdParentDir?: string;
  readonly nodeName?: string;
}

/**
 * A cluster on this machine: a sandbox registry serving the pause image, etcd and the control
 * plane, CoreDNS as the cluster DNS, and one node (containerd 2.x and kubelet; more with
 * `addNode`). Fails with the log of the component that did not come up; tears down what it started.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  // A port picked as free can be taken by another process before the component binds it.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startClusterOnce(options);
    } catch (error) {
      if (attempt === 3 || !String(error).includes("address already in use")) throw error;
    }
  }
}

async function startClusterOnce(options: ClusterOptions): Promise<Cluster> {
  const components = kubernetesComponents();
  const dir = await mkdtemp(join(tmpdir(), "prepull-kube-"));
  const workload = await readFile(components.workload);
  const stack: Array<() => Promise<void>> = [
    async () => {
      await unmountUnder(dir);
      await rm(dir, { recursive: true, force: true });
    },
  ];
  // Every step runs even when one fails; the failures are reported together at the end.
  const unwind = async (): Promise<void> => {
    const failures: unknown[] = [];
    for (const stop of stack.reverse().splice(0))
      await stop().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw new AggregateError(failures, "the cluster's teardown failed");
  };
  const pushWorkloadImage: Cluster["pushWorkloadImage"] = (registry, repository, tag, extraLayers = []) =>
    pushImage(registry, {
      repository,
      ...(tag === undefined ? {} : { tag }),
      layers: [{ files: [{ path: "workload", content: workload, mode: 0o755 }] }, ...extraLayers],
      entrypoint: WORKLOAD_ENTRYPOINT,
    });
  try {
    const registry = await startRegistry();
    stack.push(() => registry.stop());
    const pause = await pushWorkloadImage(registry, "pause", "3.10");
    const network = await createPodNetwork();
    stack.push(() => removePodNetwork(network));
    const controlPlane = await startControlPlane(join(dir, "control-plane"), components, network.nodeIp);
    stack.push(() => controlPlane.stop());
    const dns = await startClusterDns(join(dir, "dns"), components, controlPlane, network.nodeIp);
    stack.push(() => dns.stop());
    const api = await connectApi(controlPlane.server, {
      caCertPath: controlPlane.pki.caCertPath,
      certPath: join(controlPlane.pki.dir, "admin.crt"),
      keyPath: join(controlPlane.pki.dir, "admin.key"),
    });
    stack.push(() => api.close());
    const logFiles = [
      ...controlPlane.daemons.map(({ name, daemon }) => ({ name, file: daemon.logFile })),
      { name: "CoreDNS", file: dns.daemon.logFile },
    ];
    const nodes: KubeNode[] = [];
    const joinNode = async (options: NodeOptions): Promise<KubeNode> => {
      const started = await startNode(join(dir, options.name), options, controlPlane, api, components);
      nodes.push(started);
      logFiles.push(
        { name: `containerd (${started.name})`, file: join(started.containerd.root, "containerd.log") },
        { name: `kubelet (${started.name})`, file: started.kubelet.logFile },
      );
      // Nodes stop together: the controllers first, so nothing recreates the pods a drain deletes.
      if (nodes.length === 1) {
        stack.push(async () => {
          const failures: unknown[] = [];
          const attempt = (step: Promise<void>): Promise<unknown> =>
            step.catch((error: unknown) => failures.push(error));
          await attempt(controlPlane.stopControllers());
          for (const each of nodes) await attempt(each.drain());
          for (const each of [...nodes].reverse()) await attempt(each.stop());
          if (failures.length > 0) throw new AggregateError(failures, "the nodes did not stop cleanly");
        });
      }
      return started;
    };
    const node = await joinNode({
      name: options.nodeName ?? "prepull-node-1",
      sandboxImage: pause.reference,
      network,
      dns: dns.endpoint,
      ...(options.kubeletConfig ? { kubeletConfig: options.kubeletConfig } : {}),
      ...(options.containerdParentDir ? { containerdParentDir: options.containerdParentDir } : {}),
    });
    return {
      dir,
      components,
      registry,
      controlPlane,
      api,
      dns,
      node,
      addNode: (name, extra = {}) =>
        joinNode({
          name,
          sandboxImage: extra.sandboxImage ?? pause.reference,
          dns: dns.endpoint,
          ...(extra.kubeletConfig ? { kubeletConfig: extra.kubeletConfig } : {}),
          ...(extra.containerdParentDir ? { containerdParentDir: extra.containerdParentDir } : {}),
        }),
      pushWorkloadImage,
      async kubectl(args, input) {
        const child = run(components.kubectl, ["--kubeconfig", controlPlane.adminKubeconfig, ...args], {
          maxBuffer: 16 * 1024 * 1024,
        });
        if (input !== undefined) child.child.stdin?.end(input);
        try {
          return await child;
        } catch (error) {
          const failed = error as { stderr?: string; message: string };
          throw new Error(`kubectl ${args.join(" ")}: ${failed.stderr?.trim() || failed.message}`, {
            cause: error,
          });
        }
      },
      logTails(lines = 40) {
        return logFiles.map(({ name, file }) => `--- ${name} (${file})\n${tailOf(file, lines)}`).join("\n");
      },
      stop: unwind,
    };
  } catch (error) {
    await unwind().catch(() => undefined);
    throw error;
  }
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
