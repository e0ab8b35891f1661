import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { InputError } from "../failure/index.ts";
import { MANIFEST_LIMITS, MIB } from "./limits.ts";
import type { ManifestSource } from "./scan.ts";

const MANIFEST_FILE = /\.(ya?ml|json)$/;
const HELM_CHART_FILE = "Chart.yaml";

class ManifestSourceError extends InputError {
  constructor(message: string, source: string) {
    super(message, { source });
    this.name = "ManifestSourceError";
  }
}

function helmChartError(dir: string): ManifestSourceError {
  return new ManifestSourceError(
    `${dir}: a Helm chart (${HELM_CHART_FILE}), not manifests: render it first (helm template RELEASE ${dir}) and pass its output`,
    dir,
  );
}

function tooLarge(name: string): ManifestSourceError {
  return new ManifestSourceError(
    `${name}: larger than ${String(MANIFEST_LIMITS.bytesPerInput / MIB)} MiB, the limit for one manifest input`,
    name,
  );
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  if (entries.some((entry) => entry.isFile() && entry.name === HELM_CHART_FILE)) throw helmChartError(dir);
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (MANIFEST_FILE.test(entry.name)) files.push(path);
  }
  return files;
}

/** Reads a stream up to the per-input limit; one byte more is an error naming the input. */
async function readBounded(stream: Readable, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    length += bytes.length;
    if (length > MANIFEST_LIMITS.bytesPerInput) {
      stream.destroy();
      throw tooLarge(name);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Reads manifests from files, directories (recursively) and `-` (stdin), each within the
 * per-input limit and all of them within the total. A directory holding a Helm chart is refused
 * with the command that renders it.
 */
export async function readManifestSources(
  paths: readonly string[],
  stdin: Readable,
): Promise<ManifestSource[]> {
  const sources: ManifestSource[] = [];
  let total = 0;
  const add = (name: string, text: string): void => {
    total += Buffer.byteLength(text);
    if (total > MANIFEST_LIMITS.bytesTotal) {
      throw new ManifestSourceError(
        `${name}: the manifests read so far pass ${String(MANIFEST_LIMITS.bytesTotal / MIB)} MiB, the limit for one command`,
        name,
      );
    }
    sources.push({ name, text });
  };
  for (const path of paths) {
    if (path === "-") {
      add("-", await readBounded(stdin, "-"));
      continue;
    }
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) throw new ManifestSourceError(`${path}: no such file or directory`, path);
    if (!info.isDirectory() && basename(path) === HELM_CHART_FILE) throw helmChartError(dirname(path));
    const files = info.isDirectory() ? await filesUnder(path) : [path];
    for (const file of files) {
      // A regular file's size is known up front: refuse it without reading it.
      if ((await stat(file)).size > MANIFEST_LIMITS.bytesPerInput) throw tooLarge(file);
      add(file, await readBounded(createReadStream(file), file));
    }
  }
  return sources;
}
