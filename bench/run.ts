// Runs every benchmark in turn, each in its own process, and prints their reports.
// Run: npm run bench
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const BENCHMARKS = [
  "warm-vs-ctr.ts",
  "realistic-images.ts",
  "bundle-import.ts",
  "lock-vs-skopeo.ts",
  "agent-pass.ts",
  "scale.ts",
  "memory-at-rest.ts",
  "manifests-scan.ts",
  "pod-start.ts",
];

let failed = 0;
for (const name of BENCHMARKS) {
  process.stdout.write(`\n== ${name}\n`);
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(name, import.meta.url))], {
    stdio: "inherit",
  });
  if (result.status !== 0) failed += 1;
}
process.exitCode = failed === 0 ? 0 : 1;
