import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../deploy/kustomize.ts";

// helm as the chart tests run it: the binary scripts/build-helm.sh builds from its Go module, with
// a configuration, cache and registry login of its own, never the user's.

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const HELM = join(ROOT, ".cache", "kubernetes", "helm", "helm");
export const CHART = join(ROOT, "charts", "prepull");

/** The labels and annotations Helm (and the chart's Helm conventions) add; nothing else may differ. */
export const HELM_LABELS = [
  "helm.sh/chart",
  "app.kubernetes.io/managed-by",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
] as const;
/** Set on the objects of an installed release, never in `helm template`'s output. */
export const HELM_RELEASE_ANNOTATIONS = [
  "meta.helm.sh/release-name",
  "meta.helm.sh/release-namespace",
] as const;

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The command as run, for failure messages. */
  readonly command: string;
}

/** The binary, or an error naming the remedy. */
export function requireHelm(): string {
  if (!existsSync(HELM)) {
    throw new Error(
      `helm is missing (${HELM}): run scripts/build-helm.sh, which builds it from test/kubernetes/helm/go.mod ` +
        "(npm run test:cluster runs it too)",
    );
  }
  return HELM;
}

/** A HOME for helm of its own: configuration, repository cache and registry logins. */
export interface HelmHome {
  readonly env: NodeJS.ProcessEnv;
  remove(): Promise<void>;
}

export async function helmHome(): Promise<HelmHome> {
  const dir = await mkdtemp(join(tmpdir(), "prepull-helm-home-"));
  return {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      HELM_CONFIG_HOME: join(dir, "config"),
      HELM_CACHE_HOME: join(dir, "cache"),
      HELM_DATA_HOME: join(dir, "data"),
      // No colours in what the tests read.
      NO_COLOR: "1",
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Runs helm; resolves with its exit code and output whatever the code. */
export function helm(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<HelmResult> {
  const binary = requireHelm();
  const command = `helm ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      [...args],
      {
        env: options.env ?? { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" },
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") {
          reject(new Error(`${command}: ${error.message}\n${stderr}`, { cause: error }));
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr, command });
      },
    );
  });
}

/** Runs helm and fails with everything it printed unless it exits 0. */
export async function helmOk(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  const result = await helm(args, options);
  if (result.code !== 0) {
    throw new Error(`${result.command} exited ${String(result.code)}:\n${result.stderr}\n${result.stdout}`);
  }
  return result.stdout;
}

/** helm against a test cluster as its admin, with a helm home of the tests' own. */
export interface ClusterHelm {
  /** Resolves with helm's exit code and output whatever the code. */
  run(args: readonly string[]): Promise<HelmResult>;
  /** Fails with everything helm printed unless it exits 0; prints how long the command took. */
  ok(args: readonly string[]): Promise<string>;
}

export function clusterHelm(kubeconfig: string, home: HelmHome, timeoutMs: number): ClusterHelm {
  const options = { env: home.env, timeoutMs };
  const against = (args: readonly string[]): string[] => [...args, "--kubeconfig", kubeconfig];
  return {
    run: (args) => helm(against(args), options),
    async ok(args) {
      const started = performance.now();
      const output = await helmOk(against(args), options);
      process.stdout.write(`helm ${args[0] ?? ""}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      return output;
    },
  };
}

/**
 * The chart's values for a test node: the agent's image (`repository:tag`), the node's containerd
 * (its socket and root are not the defaults there), the disk guard on (so that the agent has a pin
 * budget and pins), and `imageSets` in place of the example's.
 */
export function nodeValues(
  agentImage: string,
  containerd: { readonly socketPath: string; readonly root: string },
  imageSets: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const [repository = agentImage, tag = "latest"] = agentImage.split(/:(?=[^:/]+$)/);
  return {
    image: { repository, tag },
    runtime: { socketDir: dirname(containerd.socketPath), socketName: basename(containerd.socketPath) },
    diskGuard: { enabled: true, imageFsDir: join(containerd.root, "prepull-statfs") },
    imageSets: { "example.yaml": null, ...imageSets },
  };
}

/** Writes values as a file helm reads with -f (JSON is YAML); null drops a default. */
export async function valuesFile(values: Readonly<Record<string, unknown>>): Promise<{
  path: string;
  remove(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "prepull-helm-values-"));
  const path = join(dir, "values.json");
  await writeFile(path, JSON.stringify(values));
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Objects of a multi-document manifest, read as Kubernetes reads YAML (1.1: `0400` is octal). */
export function parseManifest(text: string): KubeObject[] {
  return parseAllDocuments(text, { version: "1.1" })
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

export interface RenderOptions {
  readonly release?: string;
  readonly namespace?: string;
}

/** `helm template` of charts/prepull with `values`, test hooks included; fails with helm's message. */
export async function renderChart(
  values: Readonly<Record<string, unknown>> = {},
  { release = "prepull", namespace = "prepull" }: RenderOptions = {},
): Promise<KubeObject[]> {
  const file = await valuesFile(values);
  try {
    return parseManifest(
      await helmOk(["template", release, CHART, "--namespace", namespace, "-f", file.path]),
    );
  } finally {
    await file.remove();
  }
}

/** Whether an object is a Helm hook (`helm test`'s objects), not part of the release itself. */
export function isHook(object: KubeObject): boolean {
  const annotations = object.metadata.annotations as Record<string, string> | undefined;
  return annotations?.["helm.sh/hook"] !== undefined;
}
