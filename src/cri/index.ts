export { createCriClient, type CriClientOptions } from "./client.ts";
export {
  DEFAULT_RUNTIME_ENDPOINTS,
  EndpointError,
  normalizeEndpoint,
  resolveRuntimeEndpoint,
} from "./endpoint.ts";
export { classifyRuntimeError, redactSecrets } from "./errors.ts";
export type {
  CallObserver,
  CallOptions,
  ImageFilesystemUsage,
  ImageRuntime,
  PullAuth,
  PullOptions,
  RuntimeImage,
  RuntimeVersion,
} from "./types.ts";
export { runtimeSupport, type RuntimeSupport, type SupportLevel } from "./support.ts";
