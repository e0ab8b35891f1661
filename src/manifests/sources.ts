import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { InputError } from "../failure/index.ts";
import type { ManifestSource } from "./scan.ts";

const MANIFEST_FILE = /\.(ya?ml|json)$/;

export class ManifestSourceError extends InputError {
  constructor(message: string, source: string) {
    super(message, { source });
    this.name = "ManifestSourceError";
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (MANIFEST_FILE.test(entry.name)) files.push(path);
  }
  return files;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads manifests from files, directories (recursively) and `-` (stdin). */
export async function readManifestSources(
  paths: readonly string[],
  stdin: Readable,
): Promise<ManifestSource[]> {
  const sources: ManifestSource[] = [];
  for (const path of paths) {
    if (path === "-") {
      sources.push({ name: "-", text: await readAll(stdin) });
      continue;
    }
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) throw new ManifestSourceError(`${path}: no such file or directory`, path);
    const files = info.isDirectory() ? await filesUnder(path) : [path];
    for (const file of files) sources.push({ name: file, text: await readFile(file, "utf8") });
  }
  return sources;
}
