import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The container image runs scripts/compile-cache.ts at build time (Dockerfile) and the agent then
// reads that cache: the build step must succeed, and the agent's modules must come from the cache.

const SCRIPT = fileURLToPath(new URL("../../scripts/compile-cache.ts", import.meta.url));
const BIN = fileURLToPath(new URL("../../bin/prepull.js", import.meta.url));
const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

function node(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Only the cache each test names: none inherited from the test runner's environment.
  const inherited = { ...process.env };
  delete inherited.NODE_COMPILE_CACHE;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { env: { ...inherited, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe("scripts/compile-cache.ts", () => {
  it("fills NODE_COMPILE_CACHE with the modules the agent then reads from it", async () => {
    const cache = await mkdtemp(join(tmpdir(), "prepull-compile-cache-"));
    temps.push(cache);
    const build = await node([SCRIPT], { NODE_COMPILE_CACHE: cache });
    expect(build.code, build.stderr).toBe(0);
    const [versionDir] = await readdir(cache);
    expect(versionDir).toBeDefined();
    expect((await readdir(join(cache, versionDir ?? ""))).length).toBeGreaterThan(100);

    // `agent --help` loads the agent command and the ImageSet parser: every module a cache hit.
    const run = await node([BIN, "agent", "--help"], {
      NODE_COMPILE_CACHE: cache,
      NODE_DEBUG_NATIVE: "COMPILE_CACHE",
    });
    expect(run.code, run.stderr).toBe(0);
    const accepted = run.stderr.match(/V8 code cache for ESM file:\S+\/src\/\S+ was accepted/g) ?? [];
    expect(accepted.join("\n")).toContain("/src/cli/agent.ts");
    expect(accepted.join("\n")).toContain("/src/imageset/parse.ts");
    expect(run.stderr).not.toMatch(/no transpile cache for StrippedTypeScript file:\S+\/src\//);
  });

  it("refuses to run without NODE_COMPILE_CACHE, exit 2", async () => {
    const run = await node([SCRIPT], {});
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("compile-cache: set NODE_COMPILE_CACHE to the directory to fill\n");
  });
});
