// Runs every test that talks to a container runtime against each runtime of the matrix in turn,
// and ends with one line per runtime: `containerd <version>: N passed, M failed`.
//
//   npm run test:runtimes                       # containerd-2, containerd-1.7, containerd-1.6
//   PREPULL_TEST_RUNTIMES=containerd-1.7 npm run test:runtimes
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  RUNTIME_NAMES,
  RUNTIME_VARIABLE,
  runtimeBinaries,
  type RuntimeName,
} from "../test/sandbox/runtimes.ts";
import { runVitest } from "./vitest-run.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** A test talks to a runtime when it starts the sandbox's containerd. */
function runtimeTestFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".test.ts") && readFileSync(path, "utf8").includes("startContainerd(")) {
        files.push(relative(root, path));
      }
    }
  };
  walk(join(root, "test"));
  return files.sort();
}

function chosenRuntimes(): RuntimeName[] {
  const listed = process.env.PREPULL_TEST_RUNTIMES?.split(/[\s,]+/).filter(Boolean);
  if (listed === undefined || listed.length === 0) return [...RUNTIME_NAMES];
  for (const name of listed) {
    if (!(RUNTIME_NAMES as readonly string[]).includes(name)) {
      process.stderr.write(`test:runtimes: unknown runtime ${name} (known: ${RUNTIME_NAMES.join(", ")})\n`);
      process.exit(2);
    }
  }
  return listed as RuntimeName[];
}

const files = runtimeTestFiles();
const results: { label: string; passed: number; failed: number }[] = [];
for (const name of chosenRuntimes()) {
  let label: string = name;
  try {
    const binaries = runtimeBinaries(name);
    label = `containerd ${binaries.version}`;
  } catch (error) {
    // A runtime that is not there fails its row; it is never skipped.
    process.stderr.write(`test:runtimes: ${(error as Error).message}\n`);
    results.push({ label, passed: 0, failed: 1 });
    continue;
  }
  process.stdout.write(`\n== ${label} (${name}): ${files.length} test files\n`);
  const counts = runVitest(files, { reporter: "dot", env: { ...process.env, [RUNTIME_VARIABLE]: name } });
  results.push({ label, ...counts });
}

process.stdout.write("\n");
for (const { label, passed, failed } of results)
  process.stdout.write(`${label}: ${passed} passed, ${failed} failed\n`);
const passed = results.reduce((sum, row) => sum + row.passed, 0);
const failed = results.reduce((sum, row) => sum + row.failed, 0);
process.stdout.write(`runtimes: ${passed} passed, ${failed} failed\n`);
process.exitCode = failed === 0 ? 0 : 1;
