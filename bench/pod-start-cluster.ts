/**
 * What the pod start benchmark does on one cluster: the images it pushes, the Deployment it
 * creates, and one measured start of that Deployment.
 */
import { waitFor, type Cluster, type Event, type List, type Pod } from "../test/kubernetes/harness/index.ts";
import type { LayerSpec, PushedImage, RegistryInstance } from "../test/sandbox/index.ts";
import { watchPods } from "./pod-start-watch.ts";

const MB = 1_000_000;
/** Share of random bytes in each data layer: it unpacks to about 2.5× its compressed size. */
const ENTROPY = 0.4;
const SELECTOR = "app=pod-start";
const START_TIMEOUT_MS = 300_000;

const DEPLOYMENT = "web";

export interface BenchImages {
  /** The init container's image first, then the three containers'. */
  readonly containers: ReadonlyArray<{ name: string; image: PushedImage; init: boolean }>;
  /** A small image of the workload alone, for the Deployment that warms up each new node. */
  readonly warmup: PushedImage;
  /** Compressed bytes of distinct blobs over the four images. */
  readonly distinctBytes: number;
}

const layer = (seed: string, mb: number): LayerSpec => ({ size: mb * MB, seed, entropy: ENTROPY });

/**
 * A service as many are shipped: an app and its migration job on one language runtime, a proxy
 * sidecar and a log shipper, all four on one distribution base layer.
 */
export async function pushBenchImages(cluster: Cluster, registry: RegistryInstance): Promise<BenchImages> {
  const base = layer("pod-start-base", 64);
  const runtime = layer("pod-start-runtime", 56);
  const specs = [
    { name: "migrate", init: true, layers: [base, runtime, layer("pod-start-migrate", 4)] },
    { name: "app", init: false, layers: [base, runtime, layer("pod-start-app", 16)] },
    { name: "proxy", init: false, layers: [base, layer("pod-start-proxy", 40)] },
    { name: "logs", init: false, layers: [base, layer("pod-start-logs", 48)] },
  ];
  const containers = [];
  for (const spec of specs) {
    const image = await cluster.pushWorkloadImage(registry, `pod-start/${spec.name}`, "v1", spec.layers);
    containers.push({ name: spec.name, image, init: spec.init });
  }
  const warmup = await cluster.pushWorkloadImage(registry, "pod-start/warmup", "v1");
  const distinctBytes = await distinctBlobBytes(
    registry,
    containers.map((c) => c.image),
  );
  return { containers, warmup, distinctBytes };
}

async function distinctBlobBytes(
  registry: RegistryInstance,
  images: readonly PushedImage[],
): Promise<number> {
  const sizes = new Map<string, number>();
  for (const image of images) {
    const path = image.repository.slice(registry.host.length + 1);
    const response = await fetch(`${registry.url}/v2/${path}/manifests/${image.digest}`, {
      headers: { accept: image.mediaType },
    });
    const manifest = (await response.json()) as {
      config: { digest: string; size: number };
      layers: Array<{ digest: string; size: number }>;
    };
    for (const blob of [manifest.config, ...manifest.layers]) sizes.set(blob.digest, blob.size);
  }
  return [...sizes.values()].reduce((a, b) => a + b, 0);
}

/**
 * The Deployment of the measured pods; with `imageOverride`, the same pods on another image (a
 * new node's first pods pay for things later pods do not, so each node starts them once first).
 */
export function deployment(images: BenchImages, replicas: number, imageOverride?: PushedImage): unknown {
  const container = ({ name, image, init }: BenchImages["containers"][number]): unknown => ({
    name,
    image: (imageOverride ?? image).reference,
    imagePullPolicy: "IfNotPresent",
    ...(init ? { args: ["say", "migrated"] } : {}),
  });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: DEPLOYMENT },
    spec: {
      replicas,
      selector: { matchLabels: { app: "pod-start" } },
      template: {
        metadata: { labels: { app: "pod-start" } },
        spec: {
          terminationGracePeriodSeconds: 1,
          enableServiceLinks: false,
          initContainers: images.containers.filter((c) => c.init).map(container),
          containers: images.containers.filter((c) => !c.init).map(container),
        },
      },
    },
  };
}

export interface StartSample {
  /** Per pod, creationTimestamp to the Ready condition's lastTransitionTime (whole seconds). */
  readonly stamped: number[];
  /** Per pod, first seen to first seen Ready by the benchmark's watch (seconds, ms resolution). */
  readonly watched: number[];
  /** From the request that creates the Deployment until every pod is seen Ready (seconds). */
  readonly allReady: number;
  /** Pulling events kubelet recorded for these pods. */
  readonly kubeletPulls: number;
}

/** Creates the Deployment and waits until all its pods are Ready. */
export async function measureStart(
  cluster: Cluster,
  namespace: string,
  manifest: unknown,
  replicas: number,
): Promise<StartSample> {
  const watch = await watchPods(cluster, namespace, SELECTOR);
  try {
    const started = performance.now();
    await cluster.api.create(`/apis/apps/v1/namespaces/${namespace}/deployments`, manifest);
    await watch.allReady(replicas, START_TIMEOUT_MS);
    const allReady = (performance.now() - started) / 1000;
    const pods = await listPods(cluster, namespace);
    const names = new Set(pods.map((pod) => pod.metadata?.name));
    const events = await cluster.api.get<List<Event>>(`/api/v1/namespaces/${namespace}/events`);
    return {
      stamped: pods.map(stampedSeconds),
      watched: [...watch.pods.values()].flatMap(({ seen, ready }) =>
        ready === undefined ? [] : [(ready - seen) / 1000],
      ),
      allReady,
      kubeletPulls: events.items
        .filter((event) => event.reason === "Pulling" && names.has(event.involvedObject.name))
        .reduce((sum, event) => sum + (event.count ?? 1), 0),
    };
  } finally {
    await watch.close();
  }
}

function stampedSeconds(pod: Pod): number {
  const ready = pod.status?.conditions?.find((condition) => condition.type === "Ready");
  const created = Date.parse(String(pod.metadata?.creationTimestamp));
  return (Date.parse(String(ready?.lastTransitionTime)) - created) / 1000;
}

async function listPods(cluster: Cluster, namespace: string): Promise<Pod[]> {
  const selector = encodeURIComponent(SELECTOR);
  const list = await cluster.api.get<List<Pod>>(
    `/api/v1/namespaces/${namespace}/pods?labelSelector=${selector}`,
  );
  return list.items;
}

/** Deletes the Deployment and waits until its pods are gone and the node runs nothing else. */
export async function deleteDeployment(cluster: Cluster, namespace: string): Promise<void> {
  await cluster.api.delete(`/apis/apps/v1/namespaces/${namespace}/deployments/${DEPLOYMENT}`);
  await waitFor(
    "the Deployment's pods to be gone",
    async () => (await listPods(cluster, namespace)).length === 0,
  );
  await nodeIdle(cluster);
}

/** No task left in the node's containerd: the last pod's sandbox is torn down. */
async function nodeIdle(cluster: Cluster): Promise<void> {
  await waitFor("the node's containers to stop", async () => {
    const tasks = await cluster.node.containerd.ctr(["tasks", "list", "--quiet"]);
    return tasks.trim() === "";
  });
}
