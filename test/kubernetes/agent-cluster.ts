import { rm } from "node:fs/promises";
import { afterAll, beforeAll, onTestFailed } from "vitest";
import type { AgentStatus } from "../../src/http/index.ts";
import { tagImage, type PushedImage } from "../sandbox/index.ts";
import {
  AGENT_SELECTOR,
  baseKustomization,
  buildAgentImage,
  readyAgentPod,
  sharedMountDir,
  type BaseKustomizationOptions,
  type BuiltImage,
} from "./agent-image-support.ts";
import { ApiError, startCluster, waitFor, type Cluster, type List, type Pod } from "./harness/index.ts";

// The set-up of the tests that run the agent's own image on the cluster: a cluster whose node's
// containerd lives in a shared mount (the DaemonSet mounts the socket's directory with
// HostToContainer propagation), the agent's image built from the Dockerfile and pushed to the
// sandbox registry, the test's own images beside it, and deploy/base applied with them.

const NAMESPACE = "prepull";

/** An image of the test workload with one data layer of `size` bytes made from `seed`. */
export interface WorkloadImage {
  readonly repository: string;
  readonly tag: string;
  readonly size: number;
  readonly seed: string;
}

export interface AgentClusterOptions {
  /** The agent image's tag in the sandbox registry. */
  readonly tag?: string;
  /** KubeletConfiguration fields over the harness's defaults. */
  readonly kubeletConfig?: Record<string, unknown>;
  /** The images the test's ImageSets name, pushed once the cluster is up. */
  readonly workloads: readonly WorkloadImage[];
  /**
   * deploy/base applied before the first test, with these settings for the pushed images, and
   * its agent waited for; without it, the tests apply it themselves (`deploy`).
   */
  readonly deployed?: (images: readonly PushedImage[]) => DeploySettings;
}

/** deploy/base's settings; the agent's image is the one built here unless one is named. */
export type DeploySettings = Omit<BaseKustomizationOptions, "agentImage" | "socketPath"> & {
  readonly agentImage?: string;
};

export interface AgentCluster {
  readonly cluster: Cluster;
  readonly image: BuiltImage;
  /** The workloads, in the order of the options. */
  readonly images: readonly PushedImage[];
  /** The shared mount the node's containerd lives in, for a node added later. */
  readonly sharedDir: string;
  /** Applies deploy/base server-side with `settings`, for the first node's containerd. */
  deploy(settings: DeploySettings): Promise<void>;
  /** The agent's status, from its pod through the API server's proxy. */
  agentStatus(pod: Pod): Promise<AgentStatus>;
  /** The agent's status once a pass has left the set warm (of `total` entries, when given). */
  warmStatus(pod: Pod, total?: number): Promise<AgentStatus>;
  /** The names the node's containerd keeps. */
  imagesOnNode(): Promise<string[]>;
  /** The names the node's containerd keeps pinned (`io.cri-containerd.pinned=pinned`), sorted. */
  pinnedOnNode(): Promise<string[]>;
  /** Tags the agent's image, as the node pulled it, with `tag` too; the new reference. */
  retagAgentImage(tag: string): Promise<string>;
  /** Waits until no agent pod is left. */
  agentPodsGone(): Promise<void>;
  /** Whether the API server has an object at `path`. */
  exists(path: string): Promise<boolean>;
  /** On the running test's failure: the agents' pods and logs, and the end of each component's log. */
  reportOnFailure(): void;
}

/**
 * The cluster of the test file, started before its first test and stopped after its last, with
 * what `deploy` applied deleted first.
 */
export function agentCluster(options: AgentClusterOptions): AgentCluster {
  let shared: Awaited<ReturnType<typeof sharedMountDir>> | undefined;
  let running: Cluster | undefined;
  let started: { cluster: Cluster; image: BuiltImage; images: PushedImage[] } | undefined;
  let kustomization: string | undefined;
  const get = (): NonNullable<typeof started> => {
    if (started === undefined) throw new Error("the cluster has not started");
    return started;
  };

  const fixture: AgentCluster = {
    get cluster() {
      return get().cluster;
    },
    get image() {
      return get().image;
    },
    get images() {
      return get().images;
    },
    get sharedDir() {
      if (shared === undefined) throw new Error("the cluster has not started");
      return shared.path;
    },

    async deploy({ agentImage, ...settings }) {
      const { cluster, image } = get();
      if (kustomization !== undefined) await rm(kustomization, { recursive: true, force: true });
      kustomization = await baseKustomization({
        agentImage: agentImage ?? image.reference,
        socketPath: cluster.node.containerd.socketPath,
        ...settings,
      });
      await cluster.kubectl(["apply", "--server-side", "--field-manager=prepull-test", "-k", kustomization]);
    },

    agentStatus(pod) {
      return get().cluster.api.get<AgentStatus>(
        `/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata?.name ?? ""}:8080/proxy/v1/status`,
      );
    },

    async warmStatus(pod, total) {
      let status: AgentStatus | undefined;
      await waitFor(
        total === undefined
          ? "the agent's pass to leave the set warm"
          : `the agent to be warm for ${total} images`,
        async () => {
          status = await fixture.agentStatus(pod);
          const complete = total === undefined || status.summary.total === total;
          return status.warm && status.lastPass !== null && complete;
        },
        120_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; last status: ${JSON.stringify(status)}`, { cause: error });
      });
      if (status === undefined) throw new Error("no status");
      return status;
    },

    async imagesOnNode() {
      return (await get().cluster.node.containerd.ctr(["images", "ls", "--quiet"]))
        .split("\n")
        .filter(Boolean);
    },

    async pinnedOnNode() {
      const listed = await get().cluster.node.containerd.ctr([
        "images",
        "ls",
        "--quiet",
        'labels."io.cri-containerd.pinned"==pinned',
      ]);
      return listed.split("\n").filter(Boolean).sort();
    },

    async retagAgentImage(tag) {
      const { cluster, image } = get();
      const repository = image.reference.slice(
        image.reference.indexOf("/") + 1,
        image.reference.lastIndexOf(":"),
      );
      const digest = (await fixture.imagesOnNode())
        .find((name) => name.startsWith(`${cluster.registry.host}/${repository}@`))
        ?.split("@")[1];
      if (digest === undefined) throw new Error(`no record of ${image.reference} on the node`);
      await tagImage(cluster.registry, repository, digest, tag);
      return `${cluster.registry.host}/${repository}:${tag}`;
    },

    async agentPodsGone() {
      const { cluster } = get();
      await waitFor("the agent's pod to be gone", async () => {
        const list = await cluster.api.get<List<Pod>>(
          `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${AGENT_SELECTOR}`,
        );
        return list.items.length === 0;
      });
    },

    async exists(path) {
      try {
        await get().cluster.api.get(path);
        return true;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return false;
        throw error;
      }
    },

    reportOnFailure() {
      onTestFailed(async () => {
        const { cluster } = get();
        const pods = await cluster
          .kubectl(["get", "pods", "-n", NAMESPACE, "-o", "wide"])
          .then((out) => out.stdout)
          .catch((error: unknown) => String(error));
        const logs = await cluster
          .kubectl(["logs", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=prepull", "--tail=40", "--prefix"])
          .then((out) => out.stdout)
          .catch((error: unknown) => String(error));
        process.stderr.write(`${pods}\n${logs}\n${cluster.logTails()}\n`);
      });
    },
  };

  beforeAll(async () => {
    shared = await sharedMountDir();
    const up = await startCluster({
      containerdParentDir: shared.path,
      ...(options.kubeletConfig === undefined ? {} : { kubeletConfig: options.kubeletConfig }),
    });
    running = up;
    const [image, images] = await Promise.all([
      buildAgentImage(up.registry.host, options.tag ?? "test"),
      Promise.all(
        options.workloads.map(({ repository, tag, size, seed }) =>
          up.pushWorkloadImage(up.registry, repository, tag, [{ size, seed }]),
        ),
      ),
    ]);
    started = { cluster: up, image, images };
    if (options.deployed !== undefined) {
      await fixture.deploy(options.deployed(images));
      await readyAgentPod(up);
    }
  }, 900_000);

  afterAll(async () => {
    try {
      if (kustomization !== undefined) {
        await running
          ?.kubectl(["delete", "-k", kustomization, "--wait=true", "--timeout=90s"])
          .catch(() => undefined);
        await rm(kustomization, { recursive: true, force: true });
      }
      await running?.stop();
    } finally {
      await shared?.remove();
    }
  });

  return fixture;
}
