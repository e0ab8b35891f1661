import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMain, runPrepull, type CliRun } from "./run-prepull.ts";

// Every input error, whichever command reads the input, is one line on stderr and exit 2.
// The runtime endpoint points nowhere: none of these may get as far as talking to it.

let dir: string;
let endpoint: string;

function expectInputError(run: CliRun, ...named: string[]): void {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stdout).toBe("");
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^prepull: (input|usage): /);
  for (const text of named) expect(lines[0]).toContain(text);
}

const set = (...images: string[]): string =>
  `apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: s}\nspec:\n  images:\n${images.map((i) => `    - "${i}"\n`).join("")}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prepull-cli-inputs-"));
  endpoint = `unix://${join(dir, "no-runtime.sock")}`;
  await writeFile(join(dir, "good.yaml"), set("127.0.0.1:1/a:1"));
  await writeFile(join(dir, "bad-ref.yaml"), set("Bad Ref:1"));
  await writeFile(
    join(dir, "empty.yaml"),
    "apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: e}\nspec:\n  images: []\n",
  );
  // Nine aliases of nine aliases, six deep: ~500 000 nodes once expanded.
  const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
  for (const name of ["b", "c", "d", "e", "f"]) {
    const previous = String.fromCharCode(name.charCodeAt(0) - 1);
    levels.push(`${name}: &${name} [${Array.from({ length: 9 }, () => `*${previous}`).join(", ")}]`);
  }
  await writeFile(join(dir, "bomb.yaml"), levels.join("\n") + "\n");
  await symlink(join(dir, "loop-b.yaml"), join(dir, "loop-a.yaml"));
  await symlink(join(dir, "loop-a.yaml"), join(dir, "loop-b.yaml"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("input errors exit 2 with one line naming what is at fault", () => {
  it("agent --config naming a missing file", async () => {
    const missing = join(dir, "absent.yaml");
    expectInputError(await runMain(["agent", "--config", missing, "-r", endpoint]), missing);
  });

  it("agent --config with an invalid reference names file, field and reference", async () => {
    const file = join(dir, "bad-ref.yaml");
    expectInputError(
      await runMain(["agent", "--config", file, "-r", endpoint]),
      file,
      "spec.images[0]",
      "Bad Ref:1",
    );
  });

  it("agent --listen that is not HOST:PORT", async () => {
    for (const listen of ["8080", "host:port", "[::1]:99999", "a:b:1"]) {
      expectInputError(
        await runMain(["agent", "--config", join(dir, "good.yaml"), "--listen", listen, "-r", endpoint]),
        "--listen",
        listen,
      );
    }
  });

  it("agent --probe-listen that is not HOST:PORT or off, or that takes --listen's port", async () => {
    const good = join(dir, "good.yaml");
    for (const probe of ["8081", "none", "[::1]:99999"]) {
      expectInputError(
        await runMain(["agent", "--config", good, "--probe-listen", probe, "-r", endpoint]),
        "--probe-listen",
        probe,
      );
    }
    expectInputError(
      await runMain(["agent", "--config", good, "--listen", "127.0.0.1:8081", "-r", endpoint]),
      "--probe-listen 127.0.0.1:8081 takes the port of --listen 127.0.0.1:8081",
    );
    expectInputError(
      await runMain([
        "agent",
        "--config",
        good,
        "--probe-listen",
        ":9000",
        "--listen",
        ":9000",
        "-r",
        endpoint,
      ]),
      "--probe-listen 0.0.0.0:9000 takes the port of --listen 0.0.0.0:9000",
    );
  });

  it("--docker-config naming a missing file, for warm, lock and agent", async () => {
    const missing = join(dir, "no-creds.json");
    for (const args of [
      ["warm", "127.0.0.1:1/a:1"],
      ["lock", join(dir, "good.yaml")],
      ["agent", "--config", join(dir, "good.yaml"), "--listen", "127.0.0.1:0"],
    ]) {
      const [command = "", ...rest] = args;
      const runtime = command === "lock" ? [] : ["-r", endpoint];
      expectInputError(await runMain([command, "--docker-config", missing, ...rest, ...runtime]), missing);
    }
  });

  it("a symlink loop, a device and a YAML alias bomb as --config", async () => {
    const loop = join(dir, "loop-a.yaml");
    expectInputError(await runMain(["warm", "--config", loop, "-r", endpoint]), loop, "symbolic links");
    // The real binary: before, Node itself gave up on /dev/zero ("Invalid string length").
    expectInputError(await runPrepull(["status", "--config", "/dev/zero", "-r", endpoint]), "/dev/zero");
    const bomb = join(dir, "bomb.yaml");
    expectInputError(await runPrepull(["agent", "--config", bomb, "-r", endpoint]), bomb);
    expectInputError(await runMain(["wait", "--agents", "127.0.0.1:1", "--config", bomb]), bomb);
    expectInputError(
      await runMain(["wait", "--agents", "127.0.0.1:1", "--daemonset", "prepull/Agent"]),
      "--daemonset",
      'invalid DaemonSet "prepull/Agent"',
    );
    const good = join(dir, "good.yaml");
    expectInputError(
      await runMain([
        "agent",
        "--config",
        good,
        "-r",
        endpoint,
        "--gate-remove-taint",
        "example.com/x:Often",
      ]),
      "--gate-remove-taint",
      "NoSchedule, PreferNoSchedule, NoExecute",
    );
    expectInputError(
      await runMain([
        "agent",
        "--config",
        good,
        "-r",
        endpoint,
        "--listen",
        "127.0.0.1:0",
        "--gate-node-condition",
      ]),
      "--gate-node-condition needs the API server: not in a pod",
    );
  });

  it("an empty ImageSet is an error for warm --config", async () => {
    const file = join(dir, "empty.yaml");
    expectInputError(await runMain(["warm", "--config", file, "-r", endpoint]), file, "no images");
  });

  it("lock on a missing set names it", async () => {
    const missing = join(dir, "absent.yaml");
    expectInputError(await runMain(["lock", missing]), missing);
  });
});

describe("options that take several values do not swallow arguments", () => {
  it("--docker-config before the image arguments leaves them to warm", async () => {
    const creds = join(dir, "creds.json");
    await writeFile(creds, '{"auths": {}}');
    // Before: the image was read as a second credentials file and warm said it had no images.
    const run = await runMain(["warm", "--docker-config", creds, "Not/Valid:1", "-r", endpoint]);
    expectInputError(run, "Not/Valid:1", "invalid image reference");
  });

  it("--config and --docker-config repeat", async () => {
    const creds = join(dir, "creds.json");
    const missing = join(dir, "second-absent.json");
    const run = await runMain([
      "warm",
      "--docker-config",
      creds,
      "--docker-config",
      missing,
      "127.0.0.1:1/a:1",
      "-r",
      endpoint,
    ]);
    expectInputError(run, missing);
  });
});

describe("durations", () => {
  it.each([
    ["agent", "--resync", "0s"],
    ["agent", "--resync", "600h"],
    ["agent", "--pull-timeout", "0"],
    ["agent", "--resync", "-5s"],
    ["wait", "--interval", "0s"],
    ["warm", "--pull-timeout", "1d"],
  ])("%s %s %s is refused naming the flag", async (command, flag, value) => {
    const rest =
      command === "agent"
        ? ["--config", join(dir, "good.yaml"), "-r", endpoint]
        : command === "wait"
          ? ["--agents", "127.0.0.1:1"]
          : ["127.0.0.1:1/a:1", "-r", endpoint];
    expectInputError(await runMain([command, flag, value, ...rest]), `${flag} "${value}"`);
  });
});

describe("durations from the environment", () => {
  it("name the flag and the variable", async () => {
    const run = await runPrepull(["agent", "--config", join(dir, "good.yaml"), "-r", endpoint], {
      PREPULL_RESYNC: "0s",
    });
    expectInputError(run, '--resync "0s" (from PREPULL_RESYNC)');
  });
});

describe("numbers for scripts", () => {
  it("wait -o json rounds seconds to milliseconds", async () => {
    const run = await runMain(["wait", "--agents", "127.0.0.1:1", "-t", "1ms", "-o", "json"]);
    expect(run.code).toBe(1);
    const { seconds } = JSON.parse(run.stdout) as { seconds: number };
    expect(Math.round(seconds * 1000) / 1000).toBe(seconds);
    expect(run.stdout).not.toMatch(/"seconds": \d+\.\d{4,}/);
  });
});

describe("one error style", () => {
  it("commander's own errors and ours share the prefix", async () => {
    const unknown = await runPrepull(["warm", "--bogus-flag"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("prepull: usage: unknown option '--bogus-flag'\n");
    const both = await runMain(["warm", "--config", join(dir, "good.yaml"), "127.0.0.1:1/a:1"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^prepull: usage: warm takes either IMAGE arguments or --config/);
  });

  it("plan and pin report malformed manifests in the same shape", async () => {
    const broken = join(dir, "broken.yaml");
    await writeFile(broken, "kind: Pod\nspec: [unclosed\n");
    for (const command of ["plan", "pin"]) {
      const run = await runMain([command, broken]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`^prepull: input: ${broken.replace(/[.]/g, "\\.")}:\\d+: `, "m"));
    }
    const missing = join(dir, "absent-manifest.yaml");
    expectInputError(await runMain(["plan", missing]), missing);
  });

  it("a runtime that is not there is a failure (exit 1) with its kind", async () => {
    const run = await runMain(["status", "-r", endpoint]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^prepull: unavailable: /);
    expect(run.stderr).toContain(endpoint);
  });
});
