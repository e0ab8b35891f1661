// Runs the tests on a real Kubernetes (test/kubernetes, vitest.cluster.config.ts) and ends with
// one line: `cluster: N passed, M failed`. Run: npm run test:cluster (as root).
import { runVitest } from "./vitest-run.ts";

const { passed, failed } = runVitest(["--config", "vitest.cluster.config.ts", ...process.argv.slice(2)]);
process.stdout.write(`\ncluster: ${String(passed)} passed, ${String(failed)} failed\n`);
process.exitCode = failed === 0 ? 0 : 1;
