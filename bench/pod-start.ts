// Pod start latency on a real cluster: a Deployment whose pods run an init container and three
// containers over four layered images sharing a base layer, started
//   cold, kubelet pulling with its default serialized pulls, and with parallel pulls;
//   warmed by `prepull warm` of the same images first;
//   on the floor: the Deployment deleted and created again, its images present.
// Each scenario of each run gets a fresh single-node cluster (kube-apiserver, controller-manager,
// scheduler, kubelet, containerd 2.x on loopback) and first starts the same Deployment on a small
// image, so no figure carries a new node's first-pod costs; the floor is measured in every cluster.
// Starts real clusters: needs root and the built Kubernetes components (npm run test:cluster).
// Run: npx node bench/pod-start.ts [--runs 3] [--replicas 10] [--parallel-pulls 4]
import { execFile } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { componentVersions, createNamespace, startCluster } from "../test/kubernetes/harness/index.ts";
import { startRegistry } from "../test/sandbox/index.ts";
import {
  deleteDeployment,
  deployment,
  measureStart,
  pushBenchImages,
  type BenchImages,
  type StartSample,
} from "./pod-start-cluster.ts";
import { writeReport, type Scenario } from "./pod-start-report.ts";
import { timed } from "./support.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    replicas: { type: "string", default: "10" },
    "parallel-pulls": { type: "string", default: "4" },
  },
});
const runs = Number(values.runs);
const replicas = Number(values.replicas);
const parallelPulls = Number(values["parallel-pulls"]);
const NAMESPACE = "pod-start";

const scenarios: Array<{ key: Scenario; kubeletConfig?: Record<string, unknown> }> = [
  { key: "cold-serial" },
  {
    key: "cold-parallel",
    kubeletConfig: { serializeImagePulls: false, maxParallelImagePulls: parallelPulls },
  },
  { key: "warmed" },
];

const loadAtStart = loadavg()[0] ?? NaN;
const registry = await startRegistry();
const samples = new Map<Scenario, StartSample[]>();
const warmSeconds: number[] = [];
/** The floor measured right after each warmed start, in the same cluster. */
const pairedFloor: StartSample[] = [];
let images: BenchImages | undefined;
let versions: string[] = [];
const add = (key: Scenario, sample: StartSample): void => {
  samples.set(key, [...(samples.get(key) ?? []), sample]);
};
try {
  for (let round = 0; round < runs; round += 1) {
    for (const scenario of scenarios) {
      const cluster = await startCluster(
        scenario.kubeletConfig ? { kubeletConfig: scenario.kubeletConfig } : {},
      );
      try {
        if (images === undefined) {
          images = await pushBenchImages(cluster, registry);
          versions = componentVersions(cluster.components);
        }
        const manifest = deployment(images, replicas);
        await createNamespace(cluster.api, NAMESPACE);
        await measureStart(cluster, NAMESPACE, deployment(images, replicas, images.warmup), replicas);
        await deleteDeployment(cluster, NAMESPACE);
        if (scenario.key === "warmed") {
          const references = images.containers.map(({ image }) => `${image.reference}@${image.digest}`);
          const endpoint = cluster.node.containerd.endpoint;
          warmSeconds.push(
            await timed(() => run(process.execPath, [BIN, "warm", "-r", endpoint, ...references])),
          );
        }
        add(scenario.key, await measureStart(cluster, NAMESPACE, manifest, replicas));
        await deleteDeployment(cluster, NAMESPACE);
        const floor = await measureStart(cluster, NAMESPACE, manifest, replicas);
        add("floor", floor);
        if (scenario.key === "warmed") pairedFloor.push(floor);
      } catch (error) {
        process.stderr.write(`${cluster.logTails(20)}\n`);
        throw error;
      } finally {
        await cluster.stop();
      }
      process.stderr.write(`run ${round + 1}/${runs}: ${scenario.key} done\n`);
    }
  }
} finally {
  await registry.stop();
}

writeReport(process.stdout, {
  samples,
  warmSeconds,
  pairedFloor,
  images,
  versions,
  runs,
  replicas,
  parallelPulls,
  load: [loadAtStart, loadavg()[0] ?? NaN],
});
