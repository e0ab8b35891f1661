import { defineConfig } from "vitest/config";

// `npm run test:cluster`: the tests that run a real Kubernetes (test/kubernetes), apart from
// `npm test` because each file starts its own control plane and kubelet.
export default defineConfig({
  test: {
    include: ["test/kubernetes/**/*.test.ts"],
    globalSetup: ["test/kubernetes/announce-components.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // A control plane and a kubelet keep two cores busy; two clusters at once would time out.
    maxWorkers: 1,
    fileParallelism: false,
  },
});
