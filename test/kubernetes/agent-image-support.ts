import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { stringify } from "yaml";
import type { AgentStatus } from "../../src/http/index.ts";
import type { PushedImage } from "../sandbox/index.ts";
import { isReady, waitFor, type Cluster, type List, type Pod } from "./harness/index.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUILD_SCRIPT = join(ROOT, "scripts", "build-agent-image.sh");
export const AGENT_SELECTOR = encodeURIComponent("app.kubernetes.io/component=agent");

export interface BuiltImage {
  readonly reference: string;
  /** Unpacked, as buildah reports it. */
  readonly size: string;
  readonly buildSeconds: number;
}

/** The image as users build it: the Dockerfile through buildah, pushed to `registryHost`. */
export async function buildAgentImage(registryHost: string, tag: string): Promise<BuiltImage> {
  const started = performance.now();
  const { stdout } = await run("bash", [BUILD_SCRIPT, registryHost, tag], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: unknown) => {
    const failed = error as { stderr?: string; message: string };
    throw new Error(`build-agent-image.sh failed: ${failed.stderr?.slice(-4000) ?? failed.message}`, {
      cause: error,
    });
  });
  const field = (name: string): string => new RegExp(`^${name}=(.*)$`, "m").exec(stdout)?.[1] ?? "";
  return {
    reference: field("image"),
    size: field("size"),
    buildSeconds: (performance.now() - started) / 1000,
  };
}

/**
 * A directory that is a shared mount, for the node's containerd to live in. The DaemonSet mounts
 * the socket's directory with HostToContainer propagation, which the runtime refuses unless the
 * host side is a shared or slave mount: so it is on nodes whose init makes / shared (systemd),
 * not on a machine whose / is private, as in many containers and VMs.
 */
export async function sharedMountDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "prepull-shared-"));
  await run("mount", ["--bind", path, path]);
  await run("mount", ["--make-rshared", path]);
  return {
    path,
    async remove() {
      await run("umount", ["-l", path]).catch(() => undefined);
      await rm(path, { recursive: true, force: true });
    },
  };
}

/**
 * An ImageSet of pushed images by digest. By digest, because a tag entry has the agent ask the
 * registry where the tag points, and the sandbox registry listens on the host's loopback, which
 * no pod reaches; by digest the node's containerd alone pulls, as for every pod.
 */
export function imageSetOf(name: string, images: readonly PushedImage[]): string {
  return stringify({
    apiVersion: "prepull/v1",
    kind: "ImageSet",
    metadata: { name },
    spec: { images: images.map((image) => ({ image: `${image.repository}@${image.digest}` })) },
  });
}

export interface BaseKustomizationOptions {
  readonly agentImage: string;
  readonly socketPath: string;
  readonly imageSet: string;
  readonly env?: Readonly<Record<string, string>>;
  /** With the disk-guard component, its image-filesystem directory here (on the node's containerd filesystem). */
  readonly imageFsDir?: string;
  /** More of deploy/components, by name. */
  readonly components?: readonly string[];
  /** Only on this node: the test's nodes keep their runtime sockets at different paths. */
  readonly nodeName?: string;
}

/**
 * deploy/base as an operator applies it, through a kustomization of the test's own: the agent
 * image from the sandbox registry, the node's containerd socket (not under /run/containerd here)
 * and the test's ImageSet in place of the example's.
 */
export async function baseKustomization(options: BaseKustomizationOptions): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "prepull-agent-image-"));
  await mkdir(join(dir, "imagesets"));
  await writeFile(join(dir, "imagesets", "test.yaml"), options.imageSet);
  const [name = options.agentImage, tag = "latest"] = options.agentImage.split(/:(?=[^:/]+$)/);
  const env = [
    { name: "CONTAINER_RUNTIME_ENDPOINT", value: `unix:///run/cri/${basename(options.socketPath)}` },
    ...Object.entries(options.env ?? {}).map(([key, value]) => ({ name: key, value })),
  ];
  const patch = {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "prepull-agent" },
    spec: {
      template: {
        spec: {
          ...(options.nodeName === undefined
            ? {}
            : { nodeSelector: { "kubernetes.io/hostname": options.nodeName } }),
          containers: [{ name: "agent", env }],
          volumes: [
            {
              name: "runtime-socket-dir",
              hostPath: { path: dirname(options.socketPath), type: "Directory" },
            },
            ...(options.imageFsDir === undefined
              ? []
              : [{ name: "image-fs", hostPath: { path: options.imageFsDir, type: "DirectoryOrCreate" } }]),
          ],
        },
      },
    },
  };
  await writeFile(
    join(dir, "kustomization.yaml"),
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      namespace: "prepull",
      resources: [relative(dir, join(ROOT, "deploy", "base"))],
      components: [
        ...(options.imageFsDir === undefined ? [] : ["disk-guard"]),
        ...(options.components ?? []),
      ].map((name) => relative(dir, join(ROOT, "deploy", "components", name))),
      images: [{ name: "ghcr.io/prepull/prepull", newName: name, newTag: tag }],
      configMapGenerator: [
        {
          name: "prepull-imagesets",
          behavior: "replace",
          files: ["imagesets/test.yaml"],
          options: { disableNameSuffixHash: true },
        },
      ],
      patches: [{ patch: stringify(patch) }],
    }),
  );
  return dir;
}

/**
 * When a host process started, in ms since the epoch, from /proc (clock ticks since boot): the
 * container's own process, so the figure counts Node's start, not the runtime's set-up.
 */
export async function processStartMs(pid: number): Promise<number> {
  const [stat, uptime] = await Promise.all([
    readFile(`/proc/${String(pid)}/stat`, "utf8"),
    readFile("/proc/uptime", "utf8"),
  ]);
  const now = Date.now();
  // Fields after the command name, which may hold spaces; starttime is field 22.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[19]);
  const { stdout } = await run("getconf", ["CLK_TCK"]);
  const startedSecondsAfterBoot = ticks / Number(stdout.trim());
  return now - (Number(uptime.split(" ")[0]) - startedSecondsAfterBoot) * 1000;
}

/** The pid of a running container's task on the node, from `ctr tasks ls`. */
export function taskPid(tasks: string, containerId: string): number {
  const line = tasks.split("\n").find((row) => row.startsWith(containerId));
  const pid = Number(line?.trim().split(/\s+/)[1]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no task for ${containerId} in:\n${tasks}`);
  return pid;
}

export interface CompileCacheUse {
  readonly accepted: number;
  /** Entries V8 refused (another Node, other flags). */
  readonly rejected: number;
  /** Modules with no usable entry (none, or stale): compiled in the pod. */
  readonly compiled: number;
  /** Attempts to write the cache, which a read-only root filesystem makes fail. */
  readonly writes: number;
}

/** Counts Node's NODE_DEBUG_NATIVE=COMPILE_CACHE lines. */
export function compileCacheUse(log: string): CompileCacheUse {
  const lines = log.split("\n").filter((line) => line.includes("[compile cache]"));
  const count = (pattern: RegExp): number => lines.filter((line) => pattern.test(line)).length;
  return {
    accepted: count(/ was accepted/),
    rejected: count(/ was rejected/),
    compiled: count(/ was not initialized/),
    writes: count(/ writing cache for /),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

/** The agent's pod (not `other`, one being replaced) once Ready. */
export async function readyAgentPod(cluster: Cluster, other?: string): Promise<Pod> {
  let found: Pod | undefined;
  let list: List<Pod> | undefined;
  await waitFor(
    "the agent's pod to be Ready",
    async () => {
      list = await cluster.api.get<List<Pod>>(
        `/api/v1/namespaces/prepull/pods?labelSelector=${AGENT_SELECTOR}`,
      );
      found = list.items.find(
        (pod) => pod.metadata?.name !== other && pod.metadata?.deletionTimestamp === undefined,
      );
      return found !== undefined && isReady(found);
    },
    120_000,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; pods: ${JSON.stringify(list?.items.map((pod) => pod.status))}`, {
      cause: error,
    });
  });
  if (found === undefined) throw new Error("no agent pod");
  return found;
}

/**
 * The agent's status once every entry is pinned: the pin pass follows the pass that warmed the
 * set, so a status read the moment the set is warm may not show its pins yet.
 */
export async function pinnedStatus(read: () => Promise<AgentStatus>): Promise<AgentStatus> {
  let status: AgentStatus | undefined;
  await waitFor("the agent's pin pass to pin every entry", async () => {
    status = await read();
    return status.entries.length > 0 && status.entries.every((entry) => entry.pinned === true);
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}; last status: ${JSON.stringify(status)}`, { cause: error });
  });
  if (status === undefined) throw new Error("no status");
  return status;
}
