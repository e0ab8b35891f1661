// Runs vitest in a child process with its usual output and a JSON report beside it, and reads
// back how many tests passed and failed: the closing `N passed, M failed` lines of the test
// scripts come from here.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

interface VitestSummary {
  readonly numPassedTests: number;
  readonly numFailedTests: number;
}

export interface VitestCounts {
  readonly passed: number;
  readonly failed: number;
}

export function runVitest(
  args: readonly string[],
  options: { reporter?: string; env?: NodeJS.ProcessEnv } = {},
): VitestCounts {
  const scratch = mkdtempSync(join(tmpdir(), "prepull-vitest-"));
  const report = join(scratch, "report.json");
  try {
    const run = spawnSync(
      process.execPath,
      [
        join(root, "node_modules/vitest/vitest.mjs"),
        "run",
        `--reporter=${options.reporter ?? "default"}`,
        "--reporter=json",
        `--outputFile.json=${report}`,
        ...args,
      ],
      { cwd: root, stdio: "inherit", env: options.env ?? process.env },
    );
    let summary: VitestSummary | undefined;
    try {
      summary = JSON.parse(readFileSync(report, "utf8")) as VitestSummary;
    } catch {
      summary = undefined;
    }
    // A run that crashed before reporting counts as one failure, whatever it printed.
    if (summary === undefined) return { passed: 0, failed: 1 };
    const crashed = run.status !== 0 && summary.numFailedTests === 0 ? 1 : 0;
    return { passed: summary.numPassedTests, failed: summary.numFailedTests + crashed };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
