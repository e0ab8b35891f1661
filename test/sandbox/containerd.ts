import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startDaemon, waitUntilReady, type Daemon } from "./processes.ts";
import type { RegistryInstance } from "./registry.ts";
import { runtimeBinaries, type RuntimeBinaries, type RuntimeName } from "./runtimes.ts";

const run = promisify(execFile);

export interface ContainerdInstance {
  readonly endpoint: string;
  readonly socketPath: string;
  readonly root: string;
  readonly certsDir: string;
  /** CRI's CNI network configuration directory. */
  readonly cniConfDir: string;
  readonly pid: number;
  /** Which runtime of the matrix this is, and its version. */
  readonly runtime: RuntimeBinaries;
  ctr(args: readonly string[]): Promise<string>;
  trustRegistry(registry: RegistryInstance): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function goArch(): string {
  const names: Partial<Record<NodeJS.Architecture, string>> = { x64: "amd64", ia32: "386" };
  return names[process.arch] ?? process.arch;
}

/** Where this instance keeps its data and sockets: the same keys in both schema versions. */
function daemonSection(version: 2 | 3, dir: string): string {
  return `version = ${String(version)}
root = "${dir}/root"
state = "${dir}/state"

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
`;
}

/** What a kubelet on this containerd needs of it: a pause image it can pull, and CNI plugins. */
export interface KubeletSupport {
  /** The pod sandbox image, as the registry serves it. */
  readonly sandboxImage: string;
  /** Where the CNI plugins are (bridge, host-local, loopback); the network list goes in `cniConfDir`. */
  readonly cniBinDir: string;
}

interface ConfigChoices {
  readonly dir: string;
  readonly snapshotter: string;
  readonly kubelet: KubeletSupport | undefined;
}

const NO_SANDBOX_IMAGE = "sandbox.invalid/pause:1";

/** containerd 1.6 and 1.7 read the version-2 schema, with one CRI plugin. */
function configV2({ dir, snapshotter, kubelet }: ConfigChoices): string {
  return `${daemonSection(2, dir)}
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${kubelet?.sandboxImage ?? NO_SANDBOX_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "${snapshotter}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "${dir}/cni"${kubelet ? `\n    bin_dir = "${kubelet.cniBinDir}"` : ""}
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${dir}/certs.d"
`;
}

/**
 * containerd 2.x migrates a version-2 file in memory, but its own schema (version 3) splits the
 * CRI plugin into images and runtime plugins; NRI is on by default there and would share one
 * socket between instances, and the image verifier reads a global directory. CRI pulls go through
 * the transfer service, which unpacks only for the snapshotters its unpack_config names.
 */
function configV3({ dir, snapshotter, kubelet }: ConfigChoices): string {
  return `${daemonSection(3, dir)}
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${dir}/opt"
  [plugins."io.containerd.nri.v1.nri"]
    disable = true
  [plugins."io.containerd.image-verifier.v1.bindir"]
    bin_dir = "${dir}/image-verifier"
  [plugins."io.containerd.cri.v1.images"]
    snapshotter = "${snapshotter}"
    [plugins."io.containerd.cri.v1.images".pinned_images]
      sandbox = "${kubelet?.sandboxImage ?? NO_SANDBOX_IMAGE}"
    [plugins."io.containerd.cri.v1.images".registry]
      config_path = "${dir}/certs.d"
  [plugins."io.containerd.transfer.v1.local"]
    [[plugins."io.containerd.transfer.v1.local".unpack_config]]
      platform = "${process.platform}/${goArch()}"
      snapshotter = "${snapshotter}"
  [plugins."io.containerd.cri.v1.runtime"]
    restrict_oom_score_adj = true
    [plugins."io.containerd.cri.v1.runtime".cni]
      conf_dir = "${dir}/cni"${kubelet ? `\n      bin_dirs = ["${kubelet.cniBinDir}"]` : ""}
`;
}

/**
 * A real containerd with its own root, state, sockets and registry config dir under a temp dir,
 * so several run side by side.
 */
export async function startContainerd(
  options: {
    snapshotter?: "overlayfs" | "native";
    runtime?: RuntimeName;
    /** Where the instance's directory goes (default: the system temp dir), e.g. a small filesystem. */
    parentDir?: string;
    /** Serve a kubelet: its pause image and CNI plugins. */
    kubelet?: KubeletSupport;
  } = {},
): Promise<ContainerdInstance> {
  const runtime = runtimeBinaries(options.runtime);
  const dir = await mkdtemp(join(options.parentDir ?? tmpdir(), "prepull-containerd-"));
  await Promise.all(["root", "state", "cni", "certs.d", "opt"].map((name) => mkdir(join(dir, name))));
  const configFile = join(dir, "config.toml");
  const configToml = runtime.major >= 2 ? configV3 : configV2;
  await writeFile(
    configFile,
    configToml({ dir, snapshotter: options.snapshotter ?? "native", kubelet: options.kubelet }),
  );
  const socketPath = join(dir, "containerd.sock");

  const ctr = async (args: readonly string[]): Promise<string> => {
    try {
      const { stdout } = await run(runtime.ctr, ["--address", socketPath, "--namespace", "k8s.io", ...args], {
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout;
    } catch (error) {
      const failure = error as { stderr?: string; message: string };
      throw new Error(`ctr ${args.join(" ")} failed: ${failure.stderr?.trim() || failure.message}`, {
        cause: error,
      });
    }
  };

  let daemon: Daemon;
  const launch = async (): Promise<void> => {
    // The runtime's own shim must be found first on PATH.
    daemon = startDaemon(runtime.containerd, ["--config", configFile], join(dir, "containerd.log"), {
      ...process.env,
      PATH: `${runtime.binDir}:${process.env.PATH ?? ""}`,
    });
    await waitUntilReady(`containerd ${runtime.version}`, daemon, async () => {
      if (!existsSync(socketPath)) return false;
      await ctr(["version"]);
      return true;
    });
  };
  await launch();

  return {
    endpoint: `unix://${socketPath}`,
    socketPath,
    root: dir,
    certsDir: join(dir, "certs.d"),
    cniConfDir: join(dir, "cni"),
    runtime,
    get pid() {
      return daemon.pid;
    },
    ctr,
    async trustRegistry(registry) {
      if (registry.caCertPath === undefined) throw new Error(`registry ${registry.host} has no CA to trust`);
      const hostDir = join(dir, "certs.d", registry.host);
      await mkdir(hostDir, { recursive: true });
      await writeFile(
        join(hostDir, "hosts.toml"),
        `server = "https://${registry.host}"\n\n[host."https://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${registry.caCertPath}"\n`,
      );
    },
    async kill(signal = "SIGKILL") {
      await daemon.stop(signal);
    },
    async restart() {
      await daemon.stop("SIGTERM");
      await launch();
    },
    async stop() {
      await daemon.stop("SIGTERM");
      await unmountUnder(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Mounts left behind (snapshots, pod volumes) would keep a temp dir from being removed. */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = await readFile("/proc/self/mounts", "utf8").catch(() => "");
  const targets = mounts
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((target) => target.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of targets) await run("umount", ["-l", target]).catch(() => undefined);
}
