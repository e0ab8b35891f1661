import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { formatHostPort } from "../reference/index.ts";

/** Where kubelet mounts a pod's service account token, CA and namespace. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** How a pod reaches its API server, as client-go's rest.InClusterConfig finds it. */
export interface InClusterConfig {
  /** `https://host:port`, from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT. */
  readonly server: string;
  readonly caPem: string;
  /** Re-read on every request: kubelet rotates projected tokens while the pod runs. */
  readonly tokenFile: string;
  /** The pod's own namespace. */
  readonly namespace: string;
}

/** Why the API server cannot be reached from here; the message says what is missing. */
export class NotInClusterError extends Error {}

export async function inClusterConfig(
  env: NodeJS.ProcessEnv = process.env,
  dir: string = SERVICE_ACCOUNT_DIR,
): Promise<InClusterConfig> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = Number(env.KUBERNETES_SERVICE_PORT);
  if (host === undefined || host === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new NotInClusterError(
      "not in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set",
    );
  }
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(dir, name), "utf8");
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new NotInClusterError(
        `no service account ${name} in ${dir} (${String(code)}): mount the pod's token (automountServiceAccountToken: true)`,
      );
    }
  };
  const [caPem, namespace] = await Promise.all([read("ca.crt"), read("namespace")]);
  await read("token");
  return {
    server: `https://${formatHostPort({ host, port })}`,
    caPem,
    tokenFile: join(dir, "token"),
    namespace: namespace.trim(),
  };
}
