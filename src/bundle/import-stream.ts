import { createHash } from "node:crypto";
import { once } from "node:events";
import { pack as tarPack } from "tar-stream";
import { ClassifiedError } from "../failure/index.ts";
import type { BlobDescriptor } from "./plan.ts";
import { blobPath, INDEX_FILE, INDEX_MEDIA_TYPE, LAYOUT_FILE, LAYOUT_VERSION } from "./layout.ts";
import type { LayoutSource } from "./layout-source.ts";

type Pack = ReturnType<typeof tarPack>;

/**
 * Copies one blob into the tar, checking its bytes against its digest and size on the way; a
 * mismatch fails before the entry ends, so the runtime never receives a whole tampered blob.
 */
async function copyBlob(pack: Pack, source: LayoutSource, blob: BlobDescriptor): Promise<void> {
  const entry = pack.entry({ name: blobPath(blob.digest), size: blob.size });
  const done = new Promise<void>((resolve, reject) => {
    entry.once("finish", resolve);
    entry.once("error", reject);
  });
  // A refused blob destroys the archive, and this entry with it: that error is the one thrown below.
  done.catch(() => undefined);
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of source.openBlob(blob.digest) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (size > blob.size) break;
    if (!entry.write(chunk)) await once(entry, "drain");
  }
  const actual = `sha256:${hash.digest("hex")}`;
  if (actual !== blob.digest || size !== blob.size) {
    throw new ClassifiedError(
      "invalid",
      `${source.path}: blob ${blob.digest} does not match its digest (it is ${size === blob.size ? actual : `${String(size)} bytes, not ${String(blob.size)}`}); refused, nothing of it was named`,
    );
  }
  entry.end(() => undefined);
  await done;
}

/**
 * The tar of an OCI layout that imports one image: `oci-layout`, the blobs the runtime does not
 * hold yet (each read from the bundle and checked against its digest as it streams, so a
 * tampered blob fails the import instead of being stored), and an index.json naming the image
 * alone — whatever else the bundle holds never reaches the runtime.
 */
export function importStream(
  source: LayoutSource,
  top: BlobDescriptor,
  blobs: readonly BlobDescriptor[],
): AsyncIterable<Uint8Array> {
  const pack = tarPack();
  const add = (name: string, bytes: Buffer): void => {
    pack.entry({ name, size: bytes.length }, bytes);
  };
  const write = async (): Promise<void> => {
    add(LAYOUT_FILE, Buffer.from(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })));
    for (const blob of blobs) await copyBlob(pack, source, blob);
    const index = { schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [top] };
    add(INDEX_FILE, Buffer.from(JSON.stringify(index)));
    pack.finalize();
  };
  write().catch((error: unknown) => {
    pack.destroy(error as Error);
  });
  return pack as AsyncIterable<Uint8Array>;
}
