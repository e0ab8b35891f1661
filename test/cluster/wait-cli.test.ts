import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/index.ts";

async function wait(args: string[], tty = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = Object.assign(new PassThrough(), { isTTY: tty });
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on("data", (chunk: Buffer) => err.push(chunk.toString()));
  const code = await main(["wait", ...args], { stdout, stderr, stdin: new PassThrough(), env: {} });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

describe("prepull wait on the command line", () => {
  it("rejects usage errors with exit 2 and a message naming the problem", async () => {
    const none = await wait([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--agents HOST:PORT");
    const both = await wait(["--agents", "127.0.0.1:1", "--generation", "g", "--image", "nginx:1"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("only one of --generation, --config and --image");
    const bad = await wait(["--agents", "127.0.0.1:99999"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid agent address "127.0.0.1:99999"');
    const image = await wait(["--agents", "127.0.0.1:1", "--image", "Not/Valid"]);
    expect(image.code).toBe(2);
    expect(image.stderr).toContain("Not/Valid");
    const config = await wait(["--agents", "127.0.0.1:1", "--config", "/nonexistent/set.yaml"]);
    expect(config.code).toBe(2);
    expect(config.stderr).toContain("/nonexistent/set.yaml");
  });

  it("redraws a live table on a terminal and ends with the per-node report", async () => {
    const run = await wait(["--agents", "127.0.0.1:1,[::1]:1", "-t", "700ms", "--interval", "200ms"], true);
    expect(run.code).toBe(1);
    const redraws = run.stdout.split("\x1b[J").length - 1;
    expect(redraws).toBeGreaterThanOrEqual(2);
    const final = run.stdout.slice(run.stdout.lastIndexOf("\x1b[J") + 3);
    expect(final).toMatch(/^NODE +AGENT +GENERATION +STATE +GATE +IMAGES +DETAIL\n/);
    expect(final).toContain("127.0.0.1:1: unreachable: connection refused");
    expect(final).toContain("[::1]:1: unreachable:");
    expect(final).toMatch(/timed out after [\d.]+s: 0\/2 agents warm\n$/);
    expect(run.stderr).toBe("");
  });

  it("prints one progress line per change when not on a terminal, and JSON on request", async () => {
    const run = await wait(["--agents", "127.0.0.1:1", "-t", "700ms", "--interval", "200ms"]);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^\[[\d.]+s\] 0\/1 agents warm; 127\.0\.0\.1:1: connection refused\n$/);
    const json = await wait(["--agents", "127.0.0.1:1", "-t", "0s", "-o", "json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      done: false,
      timedOut: true,
      nodes: [{ agent: "127.0.0.1:1", state: "unreachable", reason: "connection refused" }],
    });
  });
});
