/**
 * Test support for containerd's own API, imported by tests only: the API in memory, over the
 * image store of warm's in-memory runtime; src/pins/testing's contract keeps it alike to containerd.
 */
export { MemoryContainerdApi } from "./memory-containerd-api.ts";
