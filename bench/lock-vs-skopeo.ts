// Resolves 200 tags with `prepull lock` and with `skopeo inspect --raw`, one after another and
// 8 at a time. Run: npx node bench/lock-vs-skopeo.ts [--tags 200] [--rounds 3]
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import PQueue from "p-queue";
import { pushImage, startRegistry } from "../test/sandbox/index.ts";
import { compare } from "./support.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));
const { values } = parseArgs({
  options: { tags: { type: "string", default: "200" }, rounds: { type: "string", default: "3" } },
});
const count = Number(values.tags);

const registry = await startRegistry();
const dir = await mkdtemp(join(tmpdir(), "prepull-bench-lock-"));
const references: string[] = [];
for (let i = 0; i < count; i += 1) {
  references.push(
    (await pushImage(registry, { repository: `bench/app-${i % 20}`, tag: `v${i}`, seed: `lock-${i}` }))
      .reference,
  );
}
const setText = [
  "apiVersion: prepull/v1",
  "kind: ImageSet",
  "metadata:",
  "  name: bench",
  "spec:",
  "  images:",
  ...references.map((reference) => `    - ${reference}`),
  "",
].join("\n");
const setFile = join(dir, "set.yaml");
const skopeo = (reference: string): Promise<unknown> =>
  run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reference}`]);

await compare(
  `resolve ${count} tags`,
  {
    "prepull lock": async () => {
      await writeFile(setFile, setText);
      await run(process.execPath, [BIN, "lock", setFile]);
    },
    "skopeo inspect --raw, sequential": async () => {
      for (const reference of references) await skopeo(reference);
    },
    "skopeo inspect --raw, 8 at a time": async () => {
      const queue = new PQueue({ concurrency: 8 });
      await Promise.all(references.map((reference) => queue.add(() => skopeo(reference))));
    },
  },
  Number(values.rounds),
  "prepull lock",
);
await registry.stop();
await rm(dir, { recursive: true, force: true });
