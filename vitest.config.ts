import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // A real Kubernetes under test: `npm run test:cluster` (vitest.cluster.config.ts).
    exclude: [...configDefaults.exclude, "test/kubernetes/**"],
    globalSetup: ["test/sandbox/announce-runtime.ts", "test/deploy/build-helm-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real containerd and registry processes; two cores do not like more.
    maxWorkers: 2,
  },
});
