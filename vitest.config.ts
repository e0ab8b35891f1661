import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/sandbox/announce-runtime.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real containerd and registry processes; two cores do not like more.
    maxWorkers: 2,
  },
});
