export { createCriClient, type CriClientOptions } from "./client.ts";
export { normalizeEndpoint, resolveRuntimeEndpoint } from "./endpoint.ts";
export { classifyRuntimeError } from "./errors.ts";
export { loadDescriptor, unaryCall } from "./grpc.ts";
export type { CallObserver } from "./observer.ts";
export { runtimeSupport, type RuntimeSupport, type SupportLevel } from "./support.ts";
