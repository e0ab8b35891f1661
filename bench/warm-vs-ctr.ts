// Warms the same cold set with `prepull warm`, with a running agent given a new generation, and
// with containerd's own `ctr images pull` (one after another and all at once); every method gets a
// fresh containerd each round, rounds interleave the methods, and the report gives medians with
// min and max and prepull's ratio to each.
// containerd unpacks with overlayfs, as on nodes.
// Run: npx node bench/warm-vs-ctr.ts [--images 20] [--size-mb 10] [--rounds 5]
//   [--snapshotter overlayfs|native]
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { startAgentProcess } from "../test/agent/agent-process.ts";
import { ConfigMapVolume, imageSetYaml } from "../test/agent/config-map.ts";
import { pushImage, startContainerd, startRegistry, type ContainerdInstance } from "../test/sandbox/index.ts";
import { loadAverages, metric, runtimeLine, spread, timed } from "./support.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));
const { values } = parseArgs({
  options: {
    images: { type: "string", default: "20" },
    "size-mb": { type: "string", default: "10" },
    rounds: { type: "string", default: "5" },
    snapshotter: { type: "string", default: "overlayfs" },
  },
});
if (values.snapshotter !== "overlayfs" && values.snapshotter !== "native") {
  throw new Error(`--snapshotter: overlayfs or native, got ${values.snapshotter}`);
}
const snapshotter = values.snapshotter;
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
const seedImage = await pushImage(registry, { repository: "bench/seed", tag: "v1" });

/** The agent already runs on the node; time from the new set's arrival to warm, no process start. */
async function agentNewGeneration(containerd: ContainerdInstance): Promise<number> {
  const volume = await ConfigMapVolume.create({ "set.yaml": imageSetYaml("bench", [seedImage.reference]) });
  const agent = await startAgentProcess(
    [
      "--config",
      volume.dir,
      "--runtime-endpoint",
      containerd.endpoint,
      "-c",
      String(count),
      "--log-level",
      "info",
    ],
    { NODE_OPTIONS: "--max-semi-space-size=1" },
  );
  try {
    await agent.waitFor((status) => status.warm, "the seed set", 30_000);
    const before = (await agent.status()).generation;
    await volume.update({ "set.yaml": imageSetYaml("bench", references) });
    // The agent times the generation itself (its fleet gauges); polling lightly keeps the
    // benchmark's own requests from competing with the pulls for the machine's two cores.
    await agent.waitFor((status) => status.generation !== before && status.warm, "the new set", 120_000);
    const page = (await agent.get("/metrics")).body;
    const startedAt = metric(page, "prepull_generation_start_timestamp_seconds");
    const warmAt = metric(page, "prepull_generation_warm_timestamp_seconds");
    if (!(warmAt >= startedAt && startedAt > 0)) throw new Error(`no generation times in:\n${page}`);
    return warmAt - startedAt;
  } finally {
    await agent.stop();
    await rm(volume.dir, { recursive: true, force: true });
  }
}

const methods: Record<string, (containerd: ContainerdInstance) => Promise<number>> = {
  "prepull warm (process start included)": (c) =>
    timed(() =>
      run(process.execPath, [
        BIN,
        "warm",
        "--runtime-endpoint",
        c.endpoint,
        "-c",
        String(count),
        ...references,
      ]),
    ),
  "agent, new generation to warm": agentNewGeneration,
  "ctr pull, all at once": (c) =>
    timed(() =>
      Promise.all(references.map((reference) => c.ctr(["images", "pull", "--plain-http", reference]))),
    ),
  "ctr pull, one after another": (c) =>
    timed(async () => {
      for (const reference of references) await c.ctr(["images", "pull", "--plain-http", reference]);
    }),
};

const samples = new Map<string, number[]>();
let runtime = "";
const loadAtStart = loadAverages();
for (let round = 0; round < rounds; round += 1) {
  for (const [name, method] of Object.entries(methods)) {
    // A fresh containerd each time: every method starts cold.
    const containerd = await startContainerd({ snapshotter });
    runtime = runtimeLine(containerd);
    try {
      samples.set(name, [...(samples.get(name) ?? []), await method(containerd)]);
    } finally {
      await containerd.stop();
    }
  }
}
await registry.stop();

const baseline = spread(samples.get("ctr pull, all at once") ?? []).median;
process.stdout.write(
  `${count} images of ${values["size-mb"]} MB, cold, ${rounds} interleaved rounds on ${runtime}, snapshotter ${snapshotter}\n(load average 1/5/15 min at start ${loadAtStart}, at the end ${loadAverages()}):\n`,
);
for (const [name, values] of samples) {
  const { median, min, max } = spread(values);
  process.stdout.write(
    `  ${name.padEnd(40)} median ${median.toFixed(2)} s (min ${min.toFixed(2)}, max ${max.toFixed(2)})   ${(median / baseline).toFixed(2)}× parallel ctr\n`,
  );
}
