import {
  createCriClient,
  resolveRuntimeEndpoint,
  type CallObserver,
  type ImageRuntime,
} from "../cri/index.ts";
import { UsageError } from "./context.ts";
import type { RuntimeFlags } from "./options.ts";

export function connectRuntime(
  flags: RuntimeFlags,
  env: NodeJS.ProcessEnv,
  clientOptions: { pullTimeoutMs?: number; observer?: CallObserver } = {},
): ImageRuntime {
  let endpoint: string;
  try {
    endpoint = resolveRuntimeEndpoint({ flag: flags.runtimeEndpoint, env });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return createCriClient({ endpoint, ...clientOptions });
}
