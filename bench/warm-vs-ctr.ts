// Warms the same cold set with `prepull warm` and with containerd's own `ctr images pull`, one
// after another and all at once, and prints medians and ratios.
// Run: npx node bench/warm-vs-ctr.ts [--images 20] [--size-mb 10] [--rounds 3]
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { pushImage, startContainerd, startRegistry, type ContainerdInstance } from "../test/sandbox/index.ts";
import { median, timed } from "./support.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));
const { values } = parseArgs({
  options: {
    images: { type: "string", default: "20" },
    "size-mb": { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
  },
});
const count = Number(values.images);
const sizeBytes = Number(values["size-mb"]) * 1_000_000;
const rounds = Number(values.rounds);

const registry = await startRegistry();
const references: string[] = [];
for (let i = 0; i < count; i += 1) {
  const image = await pushImage(registry, {
    repository: `bench/image-${i}`,
    tag: "v1",
    layers: [{ size: sizeBytes, seed: `bench-${i}` }],
  });
  references.push(image.reference);
}

const methods: Record<string, (containerd: ContainerdInstance) => Promise<unknown>> = {
  "prepull warm, all at once": (c) =>
    run(process.execPath, [
      BIN,
      "warm",
      "--runtime-endpoint",
      c.endpoint,
      "--concurrency",
      String(count),
      ...references,
    ]),
  "ctr pull, sequential": async (c) => {
    for (const reference of references) await c.ctr(["images", "pull", "--plain-http", reference]);
  },
  "ctr pull, all at once": (c) =>
    Promise.all(references.map((reference) => c.ctr(["images", "pull", "--plain-http", reference]))),
};

const results = new Map<string, number[]>();
for (let round = 0; round < rounds; round += 1) {
  for (const [name, method] of Object.entries(methods)) {
    // A fresh containerd each time: every method starts cold.
    const containerd = await startContainerd();
    try {
      const seconds = await timed(() => method(containerd));
      results.set(name, [...(results.get(name) ?? []), seconds]);
    } finally {
      await containerd.stop();
    }
  }
}
await registry.stop();

const medians = new Map([...results].map(([name, samples]) => [name, median(samples)]));
const prepull = medians.get("prepull warm, all at once") ?? 0;
process.stdout.write(`${count} images of ${values["size-mb"]} MB, cold, ${rounds} rounds, medians:\n`);
for (const [name, seconds] of medians) {
  process.stdout.write(
    `  ${name.padEnd(32)} ${seconds.toFixed(2)} s   prepull/this = ${(prepull / seconds).toFixed(2)}\n`,
  );
}
