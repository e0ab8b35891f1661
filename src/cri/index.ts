export { createCriClient, type CriClientOptions } from "./client.ts";
export {
  DEFAULT_RUNTIME_ENDPOINTS,
  EndpointError,
  normalizeEndpoint,
  resolveRuntimeEndpoint,
} from "./endpoint.ts";
export { classifyRuntimeError } from "./errors.ts";
export type { CallObserver } from "./observer.ts";
// Transitional: the ports belong to the warm core; importers outside src/warm move to it.
export type { ImageRuntime, PullAuth } from "../warm/index.ts";
