// Realistic images: a set whose images have 4–8 layers and share base layers (about 300 MB of
// distinct blobs), plus one image of at least 1 GB. Warms the set cold with prepull at several
// concurrencies, with parallel `ctr images pull`, and one image after another (kubelet's default,
// serializeImagePulls), and compares each with the machine's limit measured in the same run: the
// set's bytes divided by the rate of one `ctr images pull` of the big image.
// containerd unpacks with overlayfs, as on nodes (`--snapshotter native` copies each parent layer).
// Run: npx node bench/realistic-images.ts [--rounds 3] [--big-mb 1024] [--concurrency 2,4,8]
//   [--snapshotter overlayfs|native]
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import {
  pushImage,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type LayerSpec,
  type PushedImage,
} from "../test/sandbox/index.ts";
import { runtimeLine, spread, timed } from "./support.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    "big-mb": { type: "string", default: "1024" },
    concurrency: { type: "string", default: "2,4,8" },
    snapshotter: { type: "string", default: "overlayfs" },
  },
});
const rounds = Number(values.rounds);
const MB = 1_000_000;
const concurrencies = values.concurrency.split(",").map(Number);
if (values.snapshotter !== "overlayfs" && values.snapshotter !== "native") {
  throw new Error(`--snapshotter: overlayfs or native, got ${values.snapshotter}`);
}
const snapshotter = values.snapshotter;

// Two distributions and two language runtimes shared between ten services.
const bases: Record<string, LayerSpec[]> = {
  debian: [{ size: 30 * MB, seed: "base-debian" }],
  alpine: [{ size: 8 * MB, seed: "base-alpine" }],
};
const runtimes: Record<string, LayerSpec[]> = {
  node: [
    { size: 25 * MB, seed: "runtime-node" },
    { size: 6 * MB, seed: "runtime-node-modules" },
  ],
  python: [
    { size: 20 * MB, seed: "runtime-python" },
    { size: 9 * MB, seed: "runtime-python-libs" },
  ],
};
const services = Array.from({ length: 10 }, (_, i) => {
  const base = bases[i % 3 === 0 ? "alpine" : "debian"] ?? [];
  const runtime = runtimes[i % 2 === 0 ? "node" : "python"] ?? [];
  // 1–5 layers of the service's own: 4–8 layers in all.
  const own = Array.from({ length: 1 + (i % 5) }, (_, l) => ({
    size: (3 + ((i * 7 + l * 3) % 12)) * MB,
    seed: `svc-${i}-${l}`,
  }));
  return { name: `svc-${i}`, layers: [...base, ...runtime, ...own] };
});

const registry = await startRegistry();
const pushed: PushedImage[] = [];
for (const service of services) {
  pushed.push(
    await pushImage(registry, { repository: `realistic/${service.name}`, tag: "v1", layers: service.layers }),
  );
}
const bigLayers = Math.max(4, Math.round(Number(values["big-mb"]) / 128));
const big = await pushImage(registry, {
  repository: "realistic/model",
  tag: "v1",
  layers: Array.from({ length: bigLayers }, (_, l) => ({
    size: Math.round((Number(values["big-mb"]) * MB) / bigLayers),
    seed: `model-${l}`,
  })),
});
const setReferences = [...pushed, big].map((image) => image.reference);
const distinctBlobs = new Map<string, number>();
for (const layer of [...services.flatMap((s) => s.layers)]) distinctBlobs.set(layer.seed, layer.size);
const setBytes = [...distinctBlobs.values()].reduce((a, b) => a + b, 0) + big.platformSize;

const ctrPull = (c: ContainerdInstance, reference: string): Promise<string> =>
  c.ctr(["images", "pull", "--plain-http", reference]);

const methods: Record<string, (c: ContainerdInstance) => Promise<unknown>> = {
  ...Object.fromEntries(
    concurrencies.map((n) => [
      `prepull warm -c ${n}`,
      (c: ContainerdInstance) =>
        run(process.execPath, [
          BIN,
          "warm",
          "--runtime-endpoint",
          c.endpoint,
          "-c",
          String(n),
          ...setReferences,
        ]),
    ]),
  ),
  "ctr pull, all at once": (c) => Promise.all(setReferences.map((reference) => ctrPull(c, reference))),
  "ctr pull, one after another": async (c) => {
    for (const reference of setReferences) await ctrPull(c, reference);
  },
  "ctr pull of the big image alone": (c) => ctrPull(c, big.reference),
};

const samples = new Map<string, number[]>();
let runtime = "";
for (let round = 0; round < rounds; round += 1) {
  for (const [name, method] of Object.entries(methods)) {
    const containerd = await startContainerd({ snapshotter });
    runtime = runtimeLine(containerd);
    try {
      samples.set(name, [...(samples.get(name) ?? []), await timed(() => method(containerd))]);
    } finally {
      await containerd.stop();
    }
  }
}
await registry.stop();

const single = spread(samples.get("ctr pull of the big image alone") ?? []).median;
const rate = big.platformSize / single;
const limit = setBytes / rate;
process.stdout.write(
  `${pushed.length} service images (4–8 layers, shared bases) + one ${(big.platformSize / MB).toFixed(0)} MB image = ${(setBytes / MB).toFixed(0)} MB of distinct blobs, cold, ${rounds} interleaved rounds on ${runtime}, snapshotter ${snapshotter}\n` +
    `machine limit: ${(rate / MB).toFixed(0)} MB/s (one ctr pull of the big image) → ${limit.toFixed(2)} s for the set\n`,
);
for (const [name, values] of samples) {
  if (name === "ctr pull of the big image alone") continue;
  const { median, min, max } = spread(values);
  process.stdout.write(
    `  ${name.padEnd(30)} median ${median.toFixed(2)} s (min ${min.toFixed(2)}, max ${max.toFixed(2)})   ${(median / limit).toFixed(2)}× the limit\n`,
  );
}
