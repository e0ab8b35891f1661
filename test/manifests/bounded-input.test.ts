import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LOCKED, prepull, tempDir } from "./cli.ts";

describe("bounded input: oversized, deeply nested and alias-bomb manifests are refused, naming the file", () => {
  it("refuses a file over 16 MiB before parsing it", async () => {
    const dir = await tempDir();
    const file = join(dir, "huge.yaml");
    await writeFile(file, `# ${"x".repeat(16 * 1024 * 1024)}\nkind: ConfigMap\n`);
    const run = await prepull(["plan", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/huge\.yaml: .*larger than 16 MiB/);
    const pin = await prepull(["pin", "--from", LOCKED, file]);
    expect(pin.code).toBe(2);
    expect(pin.stderr).toMatch(/huge\.yaml: .*larger than 16 MiB/);
  });

  it("refuses stdin over 16 MiB", async () => {
    const run = await prepull(["plan", "-"], `# ${"x".repeat(16 * 1024 * 1024)}\n`);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/-: .*larger than 16 MiB/);
  });

  it("refuses nesting deeper than 200 levels, flow, compact or indented, and accepts 200", async () => {
    const dir = await tempDir();
    const pod =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx:1.27}]\n";
    const flow = (depth: number): string => `${pod}  x: ${"[".repeat(depth - 2)}${"]".repeat(depth - 2)}\n`;
    let block = "";
    for (let i = 0; i < 5000; i++) block += `${" ".repeat(i)}-\n`;
    // Linear text nests without limit: refused as it is read, before the parser pays for each level.
    await writeFile(join(dir, "flow.yaml"), flow(8 * 1024 * 1024 - 100));
    await writeFile(join(dir, "compact.yaml"), `kind: ConfigMap\ndata:\n${"- ".repeat(4 * 1024 * 1024)}x\n`);
    await writeFile(join(dir, "block.yaml"), `kind: ConfigMap\ndata:\n${block}`);
    for (const name of ["flow.yaml", "compact.yaml", "block.yaml"]) {
      const run = await prepull(["plan", join(dir, name)]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`${name}:\\d+: nested deeper than 200 levels`));
    }
    await writeFile(join(dir, "limit.yaml"), flow(200));
    expect((await prepull(["plan", join(dir, "limit.yaml")])).stderr).toBe("");
    await writeFile(join(dir, "over.yaml"), flow(201));
    expect((await prepull(["plan", join(dir, "over.yaml")])).stderr).toContain(
      "nested deeper than 200 levels",
    );
  });

  it("refuses a YAML alias bomb instead of expanding it", async () => {
    const dir = await tempDir();
    const levels = [
      "  - &l0 {kind: Pod, metadata: {name: p}, spec: {containers: [{name: c, image: 'nginx:1.27'}]}}",
    ];
    for (let i = 1; i <= 7; i++) {
      levels.push(
        `  - &l${i} {kind: List, items: [${Array.from({ length: 10 }, () => `*l${i - 1}`).join(", ")}]}`,
      );
    }
    await writeFile(join(dir, "bomb.yaml"), `apiVersion: v1\nkind: List\nitems:\n${levels.join("\n")}\n`);
    const run = await prepull(["plan", join(dir, "bomb.yaml"), "-o", "json"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/bomb\.yaml:\d+: aliases expand this document past/);
  });
});
