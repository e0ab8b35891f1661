// Import a bundle of about 1 GB into a fresh containerd: `ctr images import` of each archive
// against `prepull warm --config SET --from … --offline`, interleaved round by round, each method
// on a fresh containerd (so both import cold) with the overlayfs snapshotter, as nodes unpack.
// The bundle: several images of incompressible layers pushed to the sandbox registry and packed
// by skopeo, one `oci-archive:` per image, as `skopeo copy --multi-arch=all` writes them.
// Run: npx node bench/bundle-import.ts [--rounds 3] [--total-mb 1024] [--images 8] [--layers 2]
//      [--concurrency 4] [--methods prepull,prepull-c1,prepull-all,ctr,ctr-parallel] [--profile DIR]
//      [--baseline-bin FILE]  (each prepull method also from FILE, e.g. a copy of the tree before a change)
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { imageSetYaml } from "../test/agent/config-map.ts";
import {
  type ContainerdInstance,
  type PushedImage,
  pushImage,
  skopeoCopy,
  startContainerd,
  startRegistry,
} from "../test/sandbox/index.ts";
import { cpuSeconds, loadAverages, runtimeLine, spread, timed } from "./support.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    "total-mb": { type: "string", default: "1024" },
    images: { type: "string", default: "8" },
    layers: { type: "string", default: "2" },
    concurrency: { type: "string", default: "4" },
    methods: { type: "string", default: "prepull,prepull-c1,prepull-all,ctr,ctr-parallel" },
    /** A directory for prepull's CPU profiles (`--cpu-prof`). */
    profile: { type: "string" },
    /**
     * Another prepull entry point (a copy of the tree before a change, say): each prepull method
     * also runs from it, in the same rounds, labelled "(baseline)".
     */
    "baseline-bin": { type: "string" },
  },
});
const rounds = Math.max(1, Number(values.rounds));
const imageCount = Number(values.images);
const layersPerImage = Number(values.layers);
const MB = 1_000_000;
const layerBytes = Math.round((Number(values["total-mb"]) * MB) / (imageCount * layersPerImage));
/** CPU seconds of this process's children that ended (the `prepull` and `ctr` processes). */
function childrenCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // cutime and cstime: fields 16 and 17.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

const registry = await startRegistry();
const dir = await mkdtemp(join(tmpdir(), "prepull-bench-bundle-"));
const out = (line: string): boolean => process.stdout.write(`${line}\n`);
try {
  const images: PushedImage[] = [];
  for (let i = 0; i < imageCount; i += 1) {
    images.push(
      await pushImage(registry, {
        repository: `bundle/img-${String(i)}`,
        tag: "v1",
        layers: Array.from({ length: layersPerImage }, (_, l) => ({
          size: layerBytes,
          seed: `bundle-${String(i)}-${String(l)}`,
          entropy: 1,
        })),
      }),
    );
  }
  const archives: string[] = [];
  for (const [i, image] of images.entries()) {
    const path = join(dir, `img-${String(i)}.tar`);
    await skopeoCopy(image.reference, `oci-archive:${path}`, { allPlatforms: true });
    archives.push(path);
  }
  await registry.stop();
  const archiveBytes = (await Promise.all(archives.map((path) => stat(path)))).reduce(
    (sum, file) => sum + file.size,
    0,
  );
  const setFile = join(dir, "set.yaml");
  await writeFile(
    setFile,
    imageSetYaml(
      "bundle",
      images.map((image) => ({ image: image.reference, digest: image.digest })),
    ),
  );

  const ctrImport = (c: ContainerdInstance, path: string): Promise<string> =>
    c.ctr(["images", "import", path]);
  const prepullWarm = (concurrency: string, bin = BIN) => ({
    label: `prepull warm --from (${String(archives.length)} archives) --offline -c ${concurrency}${bin === BIN ? "" : " (baseline)"}`,
    run: async (c: ContainerdInstance) => {
      const result = await run(
        process.execPath,
        [
          ...(values.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${values.profile}`]),
          bin,
          "warm",
          "--config",
          setFile,
          ...archives.flatMap((path) => ["--from", path]),
          "--offline",
          "-c",
          concurrency,
          "--runtime-endpoint",
          c.endpoint,
          "-o",
          "json",
        ],
        { maxBuffer: 16 * MB },
      );
      const report = JSON.parse(result.stdout) as {
        warm: boolean;
        images: Array<{ source: string | null }>;
      };
      if (!report.warm || report.images.some((image) => image.source !== "bundle")) {
        throw new Error(`prepull did not import every image: ${result.stdout}`);
      }
    },
  });
  const allMethods: Record<string, { label: string; run: (c: ContainerdInstance) => Promise<unknown> }> = {
    prepull: prepullWarm(values.concurrency),
    // As ctr's two ways: one image at a time, and all at once.
    "prepull-c1": prepullWarm("1"),
    "prepull-all": prepullWarm(String(archives.length)),
    ctr: {
      label: "ctr images import, one archive after another",
      run: async (c) => {
        for (const path of archives) await ctrImport(c, path);
      },
    },
    "ctr-parallel": {
      label: "ctr images import, all archives at once",
      run: (c) => Promise.all(archives.map((path) => ctrImport(c, path))),
    },
  };
  const baseline = values["baseline-bin"];
  if (baseline !== undefined) {
    for (const name of Object.keys(allMethods).filter((key) => key.startsWith("prepull"))) {
      const concurrency = { prepull: values.concurrency, "prepull-c1": "1" }[name] ?? String(archives.length);
      allMethods[`${name}-baseline`] = prepullWarm(concurrency, baseline);
    }
  }
  const chosen = values.methods
    .split(",")
    .flatMap((name) =>
      baseline !== undefined && name.startsWith("prepull") ? [name, `${name}-baseline`] : [name],
    );
  for (const name of chosen) if (!(name in allMethods)) throw new Error(`no method ${name}`);

  const samples = new Map<string, number[]>();
  const cpu = new Map<string, Array<{ containerd: number; client: number }>>();
  const roundLoads: string[] = [];
  let runtime = "";
  for (let round = 0; round < rounds; round += 1) {
    roundLoads.push(loadAverages(2));
    for (const name of chosen) {
      const method = allMethods[name];
      if (method === undefined) continue;
      const containerd = await startContainerd({ snapshotter: "overlayfs" });
      runtime = runtimeLine(containerd);
      try {
        const before = { containerd: cpuSeconds(containerd.pid), client: childrenCpuSeconds() };
        const seconds = await timed(() => method.run(containerd));
        const used = {
          containerd: cpuSeconds(containerd.pid) - before.containerd,
          client: childrenCpuSeconds() - before.client,
        };
        cpu.set(name, [...(cpu.get(name) ?? []), used]);
        // Every image is there, under its name, unpacked: CRI lists it.
        const listed = await containerd.ctr(["images", "ls", "-q"]);
        for (const image of images) {
          if (!listed.includes(image.digest) && !listed.includes(image.reference)) {
            throw new Error(`${name}: ${image.reference} is not on the node after the import`);
          }
        }
        samples.set(name, [...(samples.get(name) ?? []), seconds]);
        process.stderr.write(
          `round ${String(round + 1)} ${name}: ${seconds.toFixed(2)} s, CPU containerd ${used.containerd.toFixed(1)} s, client ${used.client.toFixed(1)} s (load ${loadAverages(2)})\n`,
        );
      } finally {
        await containerd.stop();
      }
    }
  }
  roundLoads.push(loadAverages(2));

  out(
    `Import ${String(images.length)} images of ${String(layersPerImage)} incompressible layers (${(archiveBytes / MB).toFixed(0)} MB of oci-archives) ` +
      `into a fresh containerd, cold, overlayfs, on ${runtime}; ${String(rounds)} interleaved rounds ` +
      `(load average at each round's start and at the end: ${roundLoads.join(" | ")}):`,
  );
  const ctrMedian = spread(samples.get("ctr") ?? [NaN]).median;
  for (const name of chosen) {
    const values = samples.get(name) ?? [];
    const { median, min, max } = spread(values);
    const ratio = name === "ctr" ? "" : `   ${(median / ctrMedian).toFixed(2)}× ctr one after another`;
    out(`  ${allMethods[name]?.label ?? name}`);
    out(
      `    rounds ${values.map((v) => v.toFixed(2)).join(", ")} s; median ${median.toFixed(2)} s (${min.toFixed(2)}–${max.toFixed(2)}, spread ${(((max - min) / median) * 100).toFixed(0)}%), ${(archiveBytes / MB / median).toFixed(0)} MB/s${ratio}`,
    );
    const used = cpu.get(name) ?? [];
    out(
      `    CPU, median: containerd ${spread(used.map((u) => u.containerd)).median.toFixed(1)} s, the client (prepull or ctr) ${spread(used.map((u) => u.client)).median.toFixed(1)} s`,
    );
  }
  const prepull = samples.get("prepull");
  if (prepull !== undefined && Number.isFinite(ctrMedian)) {
    out(`  prepull / ctr (medians): ${(spread(prepull).median / ctrMedian).toFixed(2)}`);
  }
} finally {
  await registry.stop().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
