import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeBinaries, type RuntimeBinaries } from "../../sandbox/index.ts";

/** Names a directory of release binaries to use instead of building them (as KUBEBUILDER_ASSETS). */
export const BINARIES_VARIABLE = "PREPULL_KUBERNETES_BINARIES";

const projectRoot = fileURLToPath(new URL("../../..", import.meta.url));
const BUILD_REMEDY = "run scripts/build-kubernetes.sh (or npm run test:cluster, which does)";

/** Every program a cluster of the tests runs, found and checked before anything starts. */
export interface KubernetesComponents {
  readonly kubelet: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kubectl: string;
  readonly etcd: string;
  /** The cluster DNS, built from its Go module (test/kubernetes/coredns). */
  readonly coredns: string;
  /** The test workload: pause process and test containers (test/kubernetes/components/workload). */
  readonly workload: string;
  /** Debian's CNI plugins: bridge, host-local and loopback. */
  readonly cniBinDir: string;
  readonly runtime: RuntimeBinaries;
}

function required(path: string, what: string, remedy: string): string {
  if (!existsSync(path)) throw new Error(`${what} is missing (${path}): ${remedy}`);
  return path;
}

let found: KubernetesComponents | undefined;

export function kubernetesComponents(): KubernetesComponents {
  if (found !== undefined) return found;
  const binDir = process.env[BINARIES_VARIABLE] || join(projectRoot, ".cache", "kubernetes", "bin");
  const kube = (name: string): string => required(join(binDir, name), name, BUILD_REMEDY);
  const cniBinDir = "/usr/lib/cni";
  for (const plugin of ["bridge", "host-local", "loopback"]) {
    required(
      join(cniBinDir, plugin),
      `the CNI plugin ${plugin}`,
      "apt-get install containernetworking-plugins",
    );
  }
  found = {
    kubelet: kube("kubelet"),
    kubeApiserver: kube("kube-apiserver"),
    kubeControllerManager: kube("kube-controller-manager"),
    kubeScheduler: kube("kube-scheduler"),
    kubectl: kube("kubectl"),
    etcd: required(
      join(projectRoot, ".cache", "runtimes", "etcd", "usr", "bin", "etcd"),
      "etcd",
      "run scripts/fetch-runtimes.sh etcd",
    ),
    coredns: required(
      join(projectRoot, ".cache", "kubernetes", "coredns", "coredns"),
      "CoreDNS",
      BUILD_REMEDY,
    ),
    workload: required(
      join(projectRoot, ".cache", "kubernetes", "workload", "workload"),
      "the test workload",
      BUILD_REMEDY,
    ),
    cniBinDir,
    runtime: runtimeBinaries("containerd-2"),
  };
  return found;
}

function firstLine(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: "utf8" }).split("\n")[0]?.trim() ?? "";
}

/** One line per component with the version it reports, for the test run's header. */
export function componentVersions(components: KubernetesComponents = kubernetesComponents()): string[] {
  const kubeVersion = (binary: string): string =>
    firstLine(binary, ["--version"]).replace(/^Kubernetes /, "");
  return [
    `kube-apiserver ${kubeVersion(components.kubeApiserver)}`,
    `kube-controller-manager ${kubeVersion(components.kubeControllerManager)}`,
    `kube-scheduler ${kubeVersion(components.kubeScheduler)}`,
    `kubelet ${kubeVersion(components.kubelet)}`,
    `kubectl ${firstLine(components.kubectl, ["version", "--client"]).replace(/^Client Version: /, "")}`,
    `CoreDNS ${firstLine(components.coredns, ["-version"]).replace(/^CoreDNS-/, "")}`,
    `etcd ${firstLine(components.etcd, ["--version"]).replace(/^etcd Version: /, "")}`,
    `containerd ${components.runtime.version}`,
    `CNI plugins ${firstLine("dpkg-query", ["-W", "-f=${Version}", "containernetworking-plugins"])}`,
  ];
}
