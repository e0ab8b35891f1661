/**
 * Test support for the warm core, imported by tests only: a registry and a containerd in memory
 * behind warm's ports, and the contract that keeps the in-memory runtime alike to the real one.
 */
export type { Hold } from "./gate.ts";
export { MemoryRegistry, type Manifest, type PublishedImage } from "./memory-registry.ts";
export { MemoryImageStore, type StoredRecord } from "./memory-store.ts";
export { MemoryRuntime, type MemoryRuntimeOptions, type PullHoldOptions } from "./memory-runtime.ts";
export { describeImageRuntimeContract, type RuntimeUnderContract } from "./runtime-contract.ts";
