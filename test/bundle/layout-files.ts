import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { request } from "undici";
import { layoutIndexSchema, type LayoutIndex } from "../../src/bundle/index.ts";
import type { RegistryInstance } from "../sandbox/index.ts";

/** An ImageSet file of entries, each a string or a locked `{ image, digest }`. */
export async function writeSet(
  dir: string,
  name: string,
  images: ReadonlyArray<string | { image: string; digest: string }>,
): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  const lines = images
    .map((entry) =>
      typeof entry === "string"
        ? `    - ${entry}\n`
        : `    - image: ${entry.image}\n      digest: ${entry.digest}\n`,
    )
    .join("");
  await writeFile(
    file,
    `apiVersion: prepull/v1\nkind: ImageSet\nmetadata: {name: ${name}}\nspec:\n  images:\n${lines}`,
  );
  return file;
}

export async function readLayoutIndex(dir: string): Promise<LayoutIndex> {
  return layoutIndexSchema.parse(JSON.parse(await readFile(join(dir, "index.json"), "utf8")));
}

/** Digests of the files under blobs/sha256, each checked to hash to its name. */
export async function layoutBlobs(dir: string): Promise<string[]> {
  const names = await readdir(join(dir, "blobs", "sha256"));
  const digests: string[] = [];
  for (const name of names) {
    const bytes = await readFile(join(dir, "blobs", "sha256", name));
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (digest !== `sha256:${name}`) throw new Error(`blobs/sha256/${name} holds ${digest}`);
    digests.push(digest);
  }
  return digests.sort();
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

/** A manifest or index as the registry serves it, by digest. */
export async function fetchDocument(
  registry: RegistryInstance,
  repository: string,
  digest: string,
): Promise<{ manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }> {
  const credentials = registry.credentials;
  const response = await request(`${registry.url}/v2/${repository}/manifests/${digest}`, {
    headers: {
      accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
      ...(credentials
        ? {
            authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`,
          }
        : {}),
    },
    dispatcher: registry.dispatcher,
  });
  if (response.statusCode !== 200) throw new Error(`manifest ${digest}: ${response.statusCode}`);
  return (await response.body.json()) as {
    manifests?: Descriptor[];
    config?: Descriptor;
    layers?: Descriptor[];
  };
}

/** Every blob digest an image manifest names: config and layers. */
export async function manifestBlobDigests(
  registry: RegistryInstance,
  repository: string,
  digest: string,
): Promise<string[]> {
  const manifest = await fetchDocument(registry, repository, digest);
  return [manifest.config, ...(manifest.layers ?? [])].flatMap((d) => (d ? [d.digest] : []));
}
