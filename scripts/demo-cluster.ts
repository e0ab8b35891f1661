// The pre-rollout workflow on a real single-node Kubernetes, for a person to watch: build the
// agent's image, apply deploy/base, watch the agent warm, run the warm-up Job of
// deploy/examples, then roll out a Deployment whose pods may not pull. Everything is removed at
// the end. Run with `npm run demo:cluster` (as root).
import { rm } from "node:fs/promises";
import {
  baseKustomization,
  buildAgentImage,
  imageSetOf,
  readyAgentPod,
  sharedMountDir,
} from "../test/kubernetes/agent-image-support.ts";
import { componentVersions, createNamespace, startCluster } from "../test/kubernetes/harness/index.ts";
import {
  applyWarmUpRbac,
  createWarmUpJob,
  rollOutNeverDeployment,
  warmUpJobOutcome,
} from "../test/kubernetes/rollout-flow.ts";

const bold = (text: string): string => (process.stdout.isTTY ? `\u001b[1m${text}\u001b[0m` : text);
const started = performance.now();
const seconds = (): string => `${((performance.now() - started) / 1000).toFixed(0)} s`;

function step(title: string): void {
  process.stdout.write(`\n${bold(`== [${seconds()}] ${title}`)}\n`);
}

function show(text: string): void {
  process.stdout.write(text.endsWith("\n") || text === "" ? text : `${text}\n`);
}

step("Starting a single-node cluster: etcd, the control plane, CoreDNS, containerd 2.x and kubelet");
const shared = await sharedMountDir();
const cluster = await startCluster({ containerdParentDir: shared.path });
let kustomization: string | undefined;
const kubectl = async (args: string[]): Promise<void> => {
  show(bold(`$ kubectl ${args.join(" ")}`));
  show((await cluster.kubectl(args)).stdout);
};
try {
  show(componentVersions(cluster.components).join("\n"));

  step("Building the agent's image from the Dockerfile (buildah) and pushing it to the local registry");
  const image = await buildAgentImage(cluster.registry.host, "demo");
  show(`${image.reference}: ${image.size} unpacked, built in ${image.buildSeconds.toFixed(0)} s`);

  step("Pushing the application's new version, which the ImageSet names");
  const app = await cluster.pushWorkloadImage(cluster.registry, "shop/api", "v2", [
    { size: 4_000_000, seed: "shop-api-v2" },
  ]);
  const reference = `${app.repository}@${app.digest}`;
  show(reference);

  step("Applying deploy/base (server-side) with this node's containerd socket and the app's ImageSet");
  kustomization = await baseKustomization({
    agentImage: image.reference,
    socketPath: cluster.node.containerd.socketPath,
    imageSet: imageSetOf("shop", [app]),
  });
  await kubectl(["apply", "--server-side", "--field-manager=prepull-demo", "-k", kustomization]);
  await readyAgentPod(cluster);
  await kubectl(["get", "daemonset,pods", "-n", "prepull", "-o", "wide"]);

  step("The warm-up Job of deploy/examples: its RBAC, then the Job, which finds the agents by cluster DNS");
  show(await applyWarmUpRbac(cluster));
  const job = await createWarmUpJob(cluster, image.reference);
  const outcome = await warmUpJobOutcome(cluster, job, 180_000);
  show(bold(`$ kubectl logs -n prepull job/${job}`));
  show(outcome.log);
  if (!outcome.succeeded) throw new Error(`the Job ${job} failed: not rolling out`);

  step("Rolling out a Deployment whose pods use imagePullPolicy: Never");
  await createNamespace(cluster.api, "shop");
  await rollOutNeverDeployment(cluster, "shop", reference, 3);
  await kubectl(["get", "pods", "-n", "shop", "-o", "wide"]);
  show(`Every pod started from the image the agent warmed; none pulled. Done in ${seconds()}.`);
} finally {
  step("Removing the cluster");
  if (kustomization !== undefined) await rm(kustomization, { recursive: true, force: true });
  await cluster.stop();
  await shared.remove();
  show("Nothing is left running.");
}
