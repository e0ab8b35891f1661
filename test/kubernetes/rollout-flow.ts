import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { eventLines, podEvents, waitFor, type Cluster, type List, type Pod } from "./harness/index.ts";

// The pre-rollout workflow of deploy/examples/warm-up-job, step by step, for the cluster test and
// `npm run demo:cluster`: its RBAC, the Job as it ships (but for its image), and a Deployment
// whose pods may not pull.

const NAMESPACE = "prepull";
export const WARM_UP_EXAMPLE = fileURLToPath(new URL("../../deploy/examples/warm-up-job/", import.meta.url));

interface Job {
  status?: { succeeded?: number; failed?: number };
}

export async function applyWarmUpRbac(cluster: Cluster): Promise<string> {
  const { stdout } = await cluster.kubectl([
    "apply",
    "--server-side",
    "--field-manager=prepull-test",
    "-f",
    join(WARM_UP_EXAMPLE, "rbac.yaml"),
  ]);
  return stdout;
}

/** Creates a Job from the example with `image` and its args changed by `edit`; returns its name. */
export async function createWarmUpJob(
  cluster: Cluster,
  image: string,
  edit: (args: string[]) => string[] = (args) => args,
): Promise<string> {
  const job = parse(await readFile(join(WARM_UP_EXAMPLE, "job.yaml"), "utf8")) as {
    spec: { template: { spec: { containers: Array<{ image: string; args: string[] }> } } };
  };
  const container = job.spec.template.spec.containers[0];
  if (container === undefined) throw new Error("the example Job has no container");
  container.image = image;
  container.args = edit(container.args);
  const { stdout } = await cluster.kubectl(["create", "-o", "name", "-f", "-"], stringify(job));
  return stdout.trim().replace(/^job\.batch\//, "");
}

/** Waits until the Job succeeded or failed; returns which, with what the wait printed. */
export async function warmUpJobOutcome(
  cluster: Cluster,
  name: string,
  timeoutMs: number,
): Promise<{ succeeded: boolean; log: string }> {
  let job: Job | undefined;
  await waitFor(
    `the Job ${name} to finish`,
    async () => {
      job = await cluster.api.get<Job>(`/apis/batch/v1/namespaces/${NAMESPACE}/jobs/${name}`);
      return (job.status?.succeeded ?? 0) + (job.status?.failed ?? 0) > 0;
    },
    timeoutMs,
  ).catch(async (error: unknown) => {
    const selector = encodeURIComponent(`job-name=${name}`);
    const pods = await cluster.api.get<List<Pod>>(
      `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${selector}`,
    );
    const events = await Promise.all(
      pods.items.map((pod) => podEvents(cluster.api, NAMESPACE, pod.metadata?.name ?? "")),
    );
    throw new Error(
      `${String(error)}; pods: ${JSON.stringify(pods.items.map((pod) => pod.status))}; events:\n` +
        events.flatMap(eventLines).join("\n"),
      { cause: error },
    );
  });
  const { stdout } = await cluster.kubectl(["logs", "-n", NAMESPACE, `job/${name}`]);
  return { succeeded: (job?.status?.succeeded ?? 0) > 0, log: stdout };
}

/** A Deployment of `replicas` pods running `image` with `imagePullPolicy: Never`, rolled out. */
export async function rollOutNeverDeployment(
  cluster: Cluster,
  namespace: string,
  image: string,
  replicas: number,
): Promise<Pod[]> {
  await cluster.api.create(`/apis/apps/v1/namespaces/${namespace}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "app" },
    spec: {
      replicas,
      selector: { matchLabels: { app: "app" } },
      template: {
        metadata: { labels: { app: "app" } },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          containers: [{ name: "app", image, imagePullPolicy: "Never" }],
        },
      },
    },
  });
  await cluster.kubectl(["rollout", "status", "-n", namespace, "deployment/app", "--timeout=120s"]);
  const pods = await cluster.api.get<List<Pod>>(`/api/v1/namespaces/${namespace}/pods`);
  return pods.items;
}
