import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { Agent, request } from "undici";
import { describe, expect, it } from "vitest";
import type { AgentStatus } from "../../src/http/index.ts";
import type { PushedImage } from "../sandbox/index.ts";
import { agentCluster } from "./agent-cluster.ts";
import { AGENT_SELECTOR, imageSetOf } from "./agent-image-support.ts";
import {
  createNamespace,
  createPod,
  waitFor,
  waitForPod,
  type KubeNode,
  type List,
  type Node,
  type Pod,
} from "./harness/index.ts";

// A node registered with the readiness gate's startup taint takes no pods until prepull has
// warmed it: deploy/base with components/readiness-gate, the agent's own token, and the
// admission policy that fences that token to its own node.
const run = promisify(execFile);
const TAINT = { key: "startup-taint.cluster-autoscaler.kubernetes.io/prepull-warming", effect: "NoSchedule" };
const env = agentCluster({
  tag: "gate",
  // kubelet refreshes a pod's ConfigMap volumes at each pod sync: every 10 s here, not 1 min.
  kubeletConfig: { registerWithTaints: [TAINT], syncFrequency: "10s" },
  workloads: [{ repository: "gated/app", tag: "v1", size: 8192, seed: "gated" }],
});

const node = (
  name: string = env.cluster.node.name,
): Promise<Node & { spec?: { taints?: Array<{ key: string }> } }> =>
  env.cluster.api.get(`/api/v1/nodes/${name}`);

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

async function gateCondition(name?: string): Promise<Condition | undefined> {
  const found = (await node(name)) as { status?: { conditions?: Condition[] } };
  return found.status?.conditions?.find((condition) => condition.type === "PrepullImagesWarm");
}

/**
 * kubectl as the agent's own ServiceAccount, with a token bound to its pod (so to its node, which
 * the API server puts in the request's user info); kubectl's output, or its refusal.
 */
async function asAgent(): Promise<{ kubectl: (args: string[]) => Promise<string>; token: string }> {
  const { cluster } = env;
  const pods = await cluster.api.get<List<Pod>>(
    `/api/v1/namespaces/prepull/pods?labelSelector=${AGENT_SELECTOR}`,
  );
  const pod = pods.items[0]?.metadata?.name;
  if (pod === undefined) throw new Error("no agent pod");
  const { stdout: token } = await cluster.kubectl([
    "create",
    "token",
    "prepull",
    "-n",
    "prepull",
    "--bound-object-kind=Pod",
    `--bound-object-name=${pod}`,
  ]);
  const flags = [
    "--kubeconfig=/dev/null",
    `--server=${cluster.controlPlane.server}`,
    `--certificate-authority=${cluster.controlPlane.pki.caCertPath}`,
    `--token=${token.trim()}`,
  ];
  return {
    kubectl: (args) =>
      run(cluster.components.kubectl, [...flags, ...args]).then(
        (done) => done.stdout,
        (error: unknown) => `refused: ${(error as { stderr?: string }).stderr ?? String(error)}`,
      ),
    token: token.trim(),
  };
}

/** The status of the agent on `nodeName`, through the API server's pod proxy. */
async function agentStatusOn(nodeName: string): Promise<AgentStatus | undefined> {
  const pods = await env.cluster.api.get<List<Pod>>(
    `/api/v1/namespaces/prepull/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`,
  );
  const pod = pods.items.find((item) => item.metadata?.deletionTimestamp === undefined);
  return pod?.metadata?.name === undefined ? undefined : env.agentStatus(pod);
}

/** deploy/base's DaemonSet as applied, copied for `target` alone: its socket's directory, a short deadline. */
async function daemonSetFor(target: KubeNode): Promise<unknown> {
  const applied = await env.cluster.api.get<{
    metadata: Record<string, unknown>;
    spec: {
      selector: { matchLabels: Record<string, string> };
      template: {
        metadata: { labels: Record<string, string> };
        spec: {
          nodeSelector?: Record<string, string>;
          containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }>;
          volumes: Array<{ name: string; hostPath?: { path: string; type?: string } }>;
        };
      };
    };
  }>("/apis/apps/v1/namespaces/prepull/daemonsets/prepull-agent");
  const { spec } = applied;
  const pod = spec.template.spec;
  const copyLabel = { "prepull.test/node": target.name };
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: `prepull-agent-${target.name}`, namespace: "prepull" },
    spec: {
      ...spec,
      selector: { matchLabels: { ...spec.selector.matchLabels, ...copyLabel } },
      template: {
        ...spec.template,
        metadata: { ...spec.template.metadata, labels: { ...spec.template.metadata.labels, ...copyLabel } },
        spec: {
          ...pod,
          nodeSelector: { "kubernetes.io/hostname": target.name },
          containers: pod.containers.map((container) =>
            container.name !== "agent"
              ? container
              : {
                  ...container,
                  env: [
                    ...(container.env ?? []).filter((e) => e.name !== "PREPULL_GATE_DEADLINE"),
                    { name: "PREPULL_GATE_DEADLINE", value: "20s" },
                  ],
                },
          ),
          volumes: pod.volumes.map((volume) =>
            volume.name === "runtime-socket-dir"
              ? { ...volume, hostPath: { path: dirname(target.containerd.socketPath), type: "Directory" } }
              : volume,
          ),
        },
      },
    },
  };
}

describe("the readiness gate on a real node registered with its startup taint", () => {
  it("holds a pod off the node until the agent has warmed it, then the taint goes and the pod starts with Never", async () => {
    env.reportOnFailure();
    const { cluster, images } = env;
    const [app] = images as [PushedImage];
    expect((await node()).spec?.taints).toContainEqual(TAINT);
    await createNamespace(cluster.api, "shop");
    await createPod(cluster.api, "shop", "early", {
      containers: [{ name: "app", image: `${app.repository}@${app.digest}`, imagePullPolicy: "Never" }],
    });
    const held = await waitForPod(cluster.api, "shop", "early", "the scheduler to refuse the node", (p) =>
      (p.status?.conditions ?? []).some((c) => c.type === "PodScheduled" && c.reason === "Unschedulable"),
    );
    const refusal = held.status?.conditions?.find((c) => c.type === "PodScheduled")?.message ?? "";
    expect(refusal).toMatch(/untolerated taint/);

    await env.deploy({
      imageSet: imageSetOf("shop", [app]),
      components: ["readiness-gate"],
      nodeName: cluster.node.name,
    });

    await waitFor(
      "the startup taint to be removed",
      async () => !(await node()).spec?.taints?.some((t) => t.key === TAINT.key),
      180_000,
    );
    const condition = await gateCondition();
    expect(condition).toMatchObject({
      status: "True",
      reason: "ImagesWarm",
      message: "1/1 gated images warm",
    });
    const pod = await waitForPod(
      cluster.api,
      "shop",
      "early",
      "the held pod to run",
      (p) => p.status?.phase === "Running",
    );
    expect(pod.status?.containerStatuses?.[0]?.imageID).toContain(app.digest);
    const events = await cluster.api.get<List<{ reason?: string; involvedObject?: { kind?: string } }>>(
      "/api/v1/namespaces/prepull/events",
    );
    expect(
      events.items.filter((event) => event.involvedObject?.kind === "Pod").map((event) => event.reason),
    ).toContain("PrepullGateOpened");
  });

  it("fences the agent's token to its own node: another node, or a new taint, is refused at admission", async () => {
    const { cluster } = env;
    await cluster.api.create("/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "someone-elses-node" },
    });
    const agent = await asAgent();
    const who = JSON.parse(await agent.kubectl(["auth", "whoami", "-o", "json"])) as {
      status: { userInfo: { username: string; extra?: Record<string, string[]> } };
    };
    expect(who.status.userInfo.username).toBe("system:serviceaccount:prepull:prepull");
    expect(
      who.status.userInfo.extra?.["authentication.kubernetes.io/node-name"],
      JSON.stringify(who),
    ).toEqual([cluster.node.name]);

    const patch = (node: string, body: unknown, ...more: string[]): Promise<string> =>
      agent.kubectl(["patch", "node", node, "--type=strategic", "-p", JSON.stringify(body), ...more]);
    expect(await patch("someone-elses-node", { spec: { unschedulable: true } })).toContain(
      "the prepull agent may change only the node it runs on",
    );
    expect(
      await patch(cluster.node.name, {
        spec: { taints: [{ key: "example.com/evil", effect: "NoExecute" }] },
      }),
    ).toContain("the prepull agent may remove a taint, never add one");
    expect(await patch(cluster.node.name, { metadata: { labels: { "example.com/role": "db" } } })).toContain(
      "the prepull agent may not change a node's labels",
    );
    // What the gate itself does on its own node stays allowed: a PATCH of its status, as the agent
    // sends it (kubectl would read the status first, which the agent may not).
    const condition = { type: "PrepullImagesWarm", status: "True", reason: "ImagesWarm", message: "test" };
    const dispatcher = new Agent({ connect: { ca: await readFile(cluster.controlPlane.pki.caCertPath) } });
    try {
      const response = await request(
        `${cluster.controlPlane.server}/api/v1/nodes/${cluster.node.name}/status`,
        {
          method: "PATCH",
          dispatcher,
          headers: {
            authorization: `Bearer ${agent.token}`,
            "content-type": "application/strategic-merge-patch+json",
          },
          body: JSON.stringify({ status: { conditions: [condition] } }),
        },
      );
      await response.body.dump();
      expect(response.statusCode).toBe(200);
    } finally {
      await dispatcher.close();
    }
  });

  it("a node joining later is gated on its own, opened at its deadline; the serving node is not tainted again", async () => {
    env.reportOnFailure();
    const { cluster, images } = env;
    const [app] = images as [PushedImage];
    // A new generation with an image no registry holds: the serving node's gate stays open.
    const missing = {
      repository: `${cluster.registry.host}/gated/missing`,
      digest: `sha256:${"0".repeat(64)}`,
    };
    const set = imageSetOf("shop", [app, missing as PushedImage]);
    await cluster
      .kubectl([
        "create",
        "configmap",
        "prepull-imagesets",
        "-n",
        "prepull",
        `--from-literal=test.yaml=${set}`,
        "--dry-run=client",
        "-o",
        "yaml",
      ])
      .then(({ stdout }) =>
        cluster.kubectl(
          ["apply", "--server-side", "--force-conflicts", "--field-manager=prepull-test", "-f", "-"],
          stdout,
        ),
      );

    await waitFor(
      "the serving node's agent to take the new generation",
      async () => {
        const status = await agentStatusOn(cluster.node.name);
        return status?.entries.some((entry) => entry.state === "failed") === true;
      },
      120_000,
    );
    expect((await agentStatusOn(cluster.node.name))?.gate).toMatchObject({
      open: true,
      reason: "ImagesWarm",
    });

    const joining = await cluster.addNode("prepull-node-2", {
      kubeletConfig: { registerWithTaints: [TAINT] },
      containerdParentDir: env.sharedDir,
    });
    expect((await node(joining.name)).spec?.taints).toContainEqual(TAINT);
    // The test's nodes keep their runtime sockets at different paths, which one DaemonSet cannot
    // mount: the new node gets a copy of the agent's DaemonSet, for it alone, with a 20 s deadline.
    await cluster.api.create("/apis/apps/v1/namespaces/prepull/daemonsets", await daemonSetFor(joining));

    await waitFor(
      "the joining node's taint to be removed at its deadline",
      async () => !(await node(joining.name)).spec?.taints?.some((t) => t.key === TAINT.key),
      180_000,
    );
    expect(await gateCondition(joining.name)).toMatchObject({ status: "True", reason: "DeadlineOpened" });
    expect((await gateCondition(joining.name))?.message).toContain(`${missing.repository}@${missing.digest}`);
    // The first node served throughout: untainted, its condition still True from its warm start.
    expect((await node()).spec?.taints ?? []).not.toContainEqual(TAINT);
    expect(await gateCondition()).toMatchObject({ status: "True", reason: "ImagesWarm" });
  });
});
