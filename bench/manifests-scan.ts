// Scans a generated 10,000-document manifest stream with `prepull plan` and reports documents per
// second and peak memory, next to a bare YAML parse of the same stream (the floor any scanner pays).
// Run: npx node bench/manifests-scan.ts [--documents 10000] [--rounds 3]
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { Composer, Parser } from "yaml";
import { median } from "./support.ts";

const run = promisify(execFile);
const SELF = fileURLToPath(import.meta.url);
const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));
const { values } = parseArgs({
  options: {
    documents: { type: "string", default: "10000" },
    rounds: { type: "string", default: "3" },
    measure: { type: "string" },
    file: { type: "string" },
  },
});

/** One document of a typical rendered chart: workloads mixed with Services, ConfigMaps and CronJobs. */
function document(i: number): string {
  const app = `app-${String(i)}`;
  const container = (name: string, image: string): string =>
    [
      `        - name: ${name}`,
      `          image: ${image}`,
      "          imagePullPolicy: IfNotPresent",
      "          ports:",
      "            - containerPort: 8080",
      "          resources: {requests: {cpu: 10m, memory: 32Mi}}",
    ].join("\n");
  switch (i % 4) {
    case 0:
      return [
        "apiVersion: apps/v1",
        "kind: Deployment",
        `metadata: {name: ${app}, namespace: team-${String(i % 50)}, labels: {app: ${app}}}`,
        "spec:",
        "  replicas: 2",
        `  selector: {matchLabels: {app: ${app}}}`,
        "  template:",
        `    metadata: {labels: {app: ${app}}}`,
        "    spec:",
        "      initContainers:",
        container("migrate", `registry.example.com/team/${app}-migrate:1.${String(i % 9)}.0`),
        "      containers:",
        container("app", `registry.example.com/team/${app}:1.${String(i % 9)}.0`),
        container("sidecar", "envoyproxy/envoy:v1.30.1"),
      ].join("\n");
    case 1:
      return [
        "apiVersion: v1",
        "kind: Service",
        `metadata: {name: ${app}}`,
        "spec:",
        `  selector: {app: ${app}}`,
        "  ports: [{port: 80, targetPort: 8080}]",
      ].join("\n");
    case 2:
      return [
        "apiVersion: v1",
        "kind: ConfigMap",
        `metadata: {name: ${app}-config}`,
        "data:",
        "  settings.yaml: |",
        "    level: info",
        `    name: ${app}`,
      ].join("\n");
    default:
      return [
        "apiVersion: batch/v1",
        "kind: CronJob",
        `metadata: {name: ${app}-report}`,
        "spec:",
        "  schedule: '0 3 * * *'",
        "  jobTemplate:",
        "    spec:",
        "      template:",
        "        spec:",
        "          restartPolicy: OnFailure",
        "          containers:",
        `            - name: report`,
        `              image: ghcr.io/acme/report@sha256:${(i % 16).toString(16).repeat(64)}`,
      ].join("\n");
  }
}

/** Child mode: one measured run in a fresh process, so peak RSS belongs to this run alone. */
async function measure(mode: string, file: string): Promise<void> {
  const started = performance.now();
  if (mode === "yaml") {
    let documents = 0;
    for (const parsed of new Composer().compose(new Parser().parse(await readFile(file, "utf8")))) {
      if (parsed.errors.length === 0) documents += 1;
    }
    if (documents === 0) throw new Error("expected a document stream");
  } else {
    const { main } = await import("../src/cli/index.ts");
    const { Writable, PassThrough } = await import("node:stream");
    const sink = new Writable({
      write: (_chunk, _encoding, done) => {
        done();
      },
    });
    const code = await main(["plan", file, "-o", "json"], {
      stdout: sink,
      stderr: process.stderr,
      stdin: new PassThrough(),
      env: {},
    });
    if (code !== 0) throw new Error(`prepull plan exited ${String(code)}`);
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

if (values.measure !== undefined && values.file !== undefined) {
  await measure(values.measure, values.file);
} else {
  const count = Number(values.documents);
  const rounds = Number(values.rounds);
  const dir = await mkdtemp(join(tmpdir(), "prepull-bench-scan-"));
  try {
    const file = join(dir, "stream.yaml");
    await writeFile(file, Array.from({ length: count }, (_, i) => document(i)).join("\n---\n") + "\n");
    const sample = async (mode: string): Promise<{ seconds: number; maxRssMb: number }> =>
      JSON.parse(
        (await run(process.execPath, [SELF, "--measure", mode, "--file", file], { maxBuffer: 1 << 20 }))
          .stdout,
      ) as { seconds: number; maxRssMb: number };
    const results = new Map<string, Array<{ seconds: number; maxRssMb: number }>>();
    for (let round = 0; round < rounds; round += 1) {
      for (const mode of ["yaml", "plan"])
        results.set(mode, [...(results.get(mode) ?? []), await sample(mode)]);
    }
    const cli: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const started = performance.now();
      await run(process.execPath, [BIN, "plan", file, "-o", "json"], { maxBuffer: 1 << 28 });
      cli.push((performance.now() - started) / 1000);
    }
    const figures = (mode: string): { seconds: number; rss: number } => ({
      seconds: median((results.get(mode) ?? []).map((r) => r.seconds)),
      rss: median((results.get(mode) ?? []).map((r) => r.maxRssMb)),
    });
    const yaml = figures("yaml");
    const plan = figures("plan");
    process.stdout.write(
      [
        `manifest scan of ${String(count)} documents (${String(count / 4)} Deployments, ${String(count / 4)} CronJobs, the rest Services and ConfigMaps), ${String(rounds)} rounds, medians:`,
        `  prepull plan (scan + lint + JSON)  ${plan.seconds.toFixed(2)} s  ${Math.round(count / plan.seconds).toLocaleString("en")} documents/s  peak RSS ${plan.rss.toFixed(0)} MB`,
        `  YAML parse alone, streamed         ${yaml.seconds.toFixed(2)} s  ${Math.round(count / yaml.seconds).toLocaleString("en")} documents/s  peak RSS ${yaml.rss.toFixed(0)} MB`,
        `  plan / parse                       ${(plan.seconds / yaml.seconds).toFixed(2)}× the time`,
        `  whole CLI process, start to exit   ${median(cli).toFixed(2)} s`,
        "",
      ].join("\n"),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
