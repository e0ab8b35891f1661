import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, expect } from "vitest";
import { main } from "../../src/cli/index.ts";

export const CORPUS = "test/manifests/corpus";
export const GOLDEN = "test/manifests/golden";
export const LOCKED = "test/manifests/fixtures/locked-set.yaml";

const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Runs the CLI in-process with its own streams. */
export async function prepull(
  args: string[],
  stdin = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on("data", (chunk: Buffer) => err.push(chunk.toString()));
  const input = new PassThrough();
  input.end(stdin);
  const code = await main(args, { stdout, stderr, stdin: input, env: {} });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

/** A temporary directory removed after the file's tests. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "prepull-manifests-"));
  temps.push(dir);
  return dir;
}

/** Lines that differ between two texts of the same length in lines. */
export function changedLines(before: string, after: string): Array<[string, string]> {
  const a = before.split("\n");
  const b = after.split("\n");
  expect(b).toHaveLength(a.length);
  return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i] ?? ""] as [string, string]]));
}
