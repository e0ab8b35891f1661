import { createCriClient, resolveRuntimeEndpoint, type CallObserver } from "../cri/index.ts";
import type { ImageRuntime } from "../warm/index.ts";
import type { RuntimeFlags } from "./options.ts";

export function connectRuntime(
  flags: RuntimeFlags,
  env: NodeJS.ProcessEnv,
  clientOptions: { pullTimeoutMs?: number; observer?: CallObserver } = {},
): ImageRuntime {
  const endpoint = resolveRuntimeEndpoint({ flag: flags.runtimeEndpoint, env });
  return createCriClient({ endpoint, ...clientOptions });
}
