import { configDefaults, defineConfig } from "vitest/config";

/** The tests that run helm: their project builds it first (test/deploy/build-helm-setup.ts). */
const CHART_TESTS = "test/deploy/chart*.test.ts";

export default defineConfig({
  test: {
    globalSetup: ["test/sandbox/announce-runtime.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real containerd and registry processes; two cores do not like more.
    maxWorkers: 2,
    // A project's global setup runs only when a test of that project runs: helm is built for the
    // chart tests, and a run without them (a runtime's, the unit tests') does not wait for it.
    projects: [
      {
        extends: true,
        test: {
          name: "prepull",
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          // A real Kubernetes under test: `npm run test:cluster` (vitest.cluster.config.ts).
          exclude: [...configDefaults.exclude, "test/kubernetes/**", CHART_TESTS],
        },
      },
      {
        extends: true,
        test: { name: "charts", include: [CHART_TESTS], globalSetup: ["test/deploy/build-helm-setup.ts"] },
      },
    ],
  },
});
