import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "./index.ts";

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr] = [new PassThrough(), new PassThrough()];
  const out: string[] = [];
  const err: string[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on("data", (chunk: Buffer) => err.push(chunk.toString()));
  const code = await main(args, { stdout, stderr, stdin: new PassThrough(), env: {} });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

// Commands load on demand: whichever the arguments name, help and errors stay whole.
describe("the command line", () => {
  it("lists every command in its help, in order", async () => {
    const { code, stdout } = await run(["--help"]);
    expect(code).toBe(0);
    const listed = [...stdout.matchAll(/^ {2}([a-z-]+) /gm)].map((match) => match[1]);
    expect(listed).toEqual([
      "warm",
      "agent",
      "status",
      "lock",
      "bundle",
      "plan",
      "pin",
      "wait",
      "crio-pins",
      "help",
    ]);
  });

  it("shows a command's own help when it is named", async () => {
    const { code, stdout } = await run(["agent", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: prepull agent /);
    expect(stdout).toContain("--resync <duration>");
  });

  it("answers help for a command given as help's argument", async () => {
    const { code, stdout } = await run(["help", "plan"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: prepull plan /);
  });

  it("suggests the command a mistyped name was meant to be, exit 2", async () => {
    const { code, stderr } = await run(["wram"]);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'wram'");
    expect(stderr).toContain("warm");
  });

  it("rejects an unknown option of a named command as that command does, exit 2", async () => {
    const { code, stderr } = await run(["status", "--no-such-flag"]);
    expect(code).toBe(2);
    expect(stderr).toBe("prepull: usage: unknown option '--no-such-flag'\n");
  });
});
