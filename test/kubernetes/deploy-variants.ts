import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

const DEPLOY = fileURLToPath(new URL("../../deploy", import.meta.url));

/** One way an operator installs prepull: the base or an overlay, with components. */
export interface DeployVariant {
  readonly name: string;
  /** Under deploy/: `base` or `overlays/…`. */
  readonly resource: string;
  readonly components?: readonly string[];
  /** Each hostPath volume the DaemonSet's pod gets, by volume name. */
  readonly hostPaths: Readonly<Record<string, string>>;
}

const SOCKET = { "runtime-socket-dir": "/run/containerd" };

export const DEPLOY_VARIANTS: readonly DeployVariant[] = [
  { name: "base", resource: "base", hostPaths: SOCKET },
  {
    name: "overlay air-gapped",
    resource: "overlays/air-gapped",
    hostPaths: { ...SOCKET, "registry-hosts": "/etc/containerd/certs.d" },
  },
  { name: "overlay cri-o", resource: "overlays/cri-o", hostPaths: { "runtime-socket-dir": "/var/run/crio" } },
  {
    name: "overlay k3s",
    resource: "overlays/k3s",
    hostPaths: {
      "runtime-socket-dir": "/run/k3s/containerd",
      "registry-hosts": "/var/lib/rancher/k3s/agent/etc/containerd/certs.d",
    },
  },
  {
    name: "base with the disk guard",
    resource: "base",
    components: ["components/disk-guard"],
    hostPaths: { ...SOCKET, "image-fs": "/var/lib/containerd/prepull-statfs" },
  },
  {
    name: "base with private registries",
    resource: "base",
    components: ["components/private-registry"],
    hostPaths: SOCKET,
  },
  {
    name: "base with the readiness gate (RBAC, own-node admission policy)",
    resource: "base",
    components: ["components/readiness-gate"],
    hostPaths: SOCKET,
  },
  {
    name: "base with the Node Readiness Controller's reporter",
    resource: "base",
    components: ["components/node-readiness-controller"],
    hostPaths: SOCKET,
  },
];

/**
 * A kustomization of the test's own over one variant, naming the agent image the sandbox
 * registry serves (kustomize takes only relative paths to the project's deploy/).
 */
export async function kustomizationFor(variant: DeployVariant, agentImage: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "prepull-deploy-"));
  await mkdir(dir, { recursive: true });
  const path = (under: string): string => relative(dir, join(DEPLOY, under));
  const [name = agentImage, tag = "latest"] = agentImage.split(/:(?=[^:/]+$)/);
  await writeFile(
    join(dir, "kustomization.yaml"),
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: [path(variant.resource)],
      ...(variant.components ? { components: variant.components.map(path) } : {}),
      images: [{ name: "ghcr.io/prepull/prepull", newName: name, newTag: tag }],
    }),
  );
  return dir;
}

/** What Pod Security's restricted level names in a warning or a refusal. */
export interface RestrictedViolations {
  /** The checks that failed, e.g. `restricted volume types`, `runAsUser=0`. */
  readonly checks: string[];
  /** The volumes it names for their hostPath type. */
  readonly hostPathVolumes: string[];
}

export function restrictedViolations(message: string): RestrictedViolations {
  const listed = /violates? PodSecurity "restricted:latest": (.*)$/m.exec(message)?.[1] ?? "";
  // "check (detail), check (detail)": details may hold commas, checks start after "), ".
  const checks = listed
    .split(/\), (?=[a-zA-Z])/)
    .map((check) => check.replace(/ \(.*$/, "").trim())
    .filter(Boolean)
    .sort();
  const volumes =
    /volumes? ((?:"[^"]+"(?:, )?)+) uses? restricted volume type "hostPath"/.exec(listed)?.[1] ?? "";
  const hostPathVolumes = [...volumes.matchAll(/"([^"]+)"/g)].map((match) => match[1] ?? "").sort();
  return { checks, hostPathVolumes };
}
