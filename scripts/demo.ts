// A tour of prepull on a built-in sandbox: a real containerd and a real registry on loopback,
// started here and removed at the end. Run with `npm run demo` (as root: containerd needs it).
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  pushImage,
  pushIndex,
  RUNTIME_VARIABLE,
  startContainerd,
  startRegistry,
} from "../test/sandbox/index.ts";

const BIN = fileURLToPath(new URL("../bin/prepull.js", import.meta.url));
const bold = (text: string): string => (process.stdout.isTTY ? `\u001b[1m${text}\u001b[0m` : text);

function step(title: string): void {
  process.stdout.write(`\n${bold(`== ${title}`)}\n`);
}

/** Runs the real CLI with its output on this terminal, and returns its exit code. */
function prepull(args: string[]): Promise<number> {
  process.stdout.write(`${bold("$ prepull " + args.join(" "))}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: "inherit" });
    child.once("error", reject);
    child.once("exit", (code) => {
      resolve(code ?? 1);
    });
  });
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  return response.json();
}

step("Starting a sandbox: containerd and a registry on loopback");
const [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
const work = await mkdtemp(join(tmpdir(), "prepull-demo-"));
process.stdout.write(
  `containerd ${containerd.runtime.version} (${containerd.runtime.name}; ${RUNTIME_VARIABLE} picks another): ${containerd.endpoint}\n` +
    `registry: ${registry.url}\n`,
);

try {
  step("Pushing sample images");
  const api = await pushImage(registry, {
    repository: "acme/api",
    tag: "v1.4.2",
    layers: [{ size: 5_000_000, seed: "api" }],
  });
  const web = await pushIndex(registry, {
    repository: "acme/web",
    tag: "2.0",
    platforms: [
      { os: "linux", architecture: "amd64", layers: [{ size: 3_000_000, seed: "web-amd64" }] },
      { os: "linux", architecture: "arm64", layers: [{ size: 3_000_000, seed: "web-arm64" }] },
    ],
  });
  const worker = await pushImage(registry, {
    repository: "acme/worker",
    tag: "1.0",
    layers: [{ size: 1_000_000, seed: "worker" }],
  });
  for (const image of [api, web, worker]) process.stdout.write(`${image.reference}  ${image.digest}\n`);

  const setFile = join(work, "web-tier.yaml");
  await writeFile(
    setFile,
    [
      "# Images the web tier's pods use, written exactly as in their manifests.",
      "apiVersion: prepull/v1",
      "kind: ImageSet",
      "metadata:",
      "  name: web-tier",
      "spec:",
      "  images:",
      `    - ${registry.host}/acme/api:v1.4.2`,
      `    - ${registry.host}/acme/web:2.0 # multi-platform`,
      `    - ${registry.host}/acme/worker@${worker.digest}`,
      "",
    ].join("\n"),
  );

  step("Locking the set: tags resolved to digests at the registry");
  await prepull(["lock", setFile]);
  process.stdout.write(await readFile(setFile, "utf8"));

  const runtime = ["--runtime-endpoint", containerd.endpoint];
  step("Warming the node (cold)");
  await prepull(["warm", "--config", setFile, ...runtime]);
  step("Warming again: everything is present, nothing is pulled");
  await prepull(["warm", "--config", setFile, ...runtime]);
  step("How the node compares with the set");
  await prepull(["status", "--config", setFile, ...runtime]);

  step("Running the agent for a moment");
  const agent = spawn(
    process.execPath,
    [BIN, "agent", "--config", setFile, ...runtime, "--listen", "127.0.0.1:0", "--resync", "2s"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = "";
    agent.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /"msg":"agent started".*?"url":"([^"]+)"|"url":"([^"]+)".*?"msg":"agent started"/.exec(
        buffer,
      );
      if (match) resolve(match[1] ?? match[2] ?? "");
    });
    agent.once("exit", (code) => {
      reject(new Error(`agent exited with ${String(code)}`));
    });
  });
  process.stdout.write(`agent listening on ${url}\n`);
  step("Waiting, as a pre-rollout Job would, until the agent is warm for this set's generation");
  await prepull(["wait", "--agents", url.replace(/^http:\/\//, ""), "--config", setFile, "--timeout", "60s"]);
  const status = (await getJson(`${url}/v1/status`)) as {
    warm: boolean;
    generation: string;
    summary: object;
  };
  process.stdout.write(
    `GET /v1/status → warm=${String(status.warm)} generation=${status.generation} ${JSON.stringify(status.summary)}\n`,
  );
  agent.kill("SIGTERM");
  await new Promise((resolve) => agent.once("exit", resolve));
  process.stdout.write("agent stopped on SIGTERM\n");
} finally {
  step("Tearing the sandbox down");
  await Promise.all([containerd.stop(), registry.stop()]);
  await rm(work, { recursive: true, force: true });
  process.stdout.write("done\n");
}
