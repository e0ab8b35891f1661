import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isClassifiedError } from "../failure/index.ts";
import { parseReference } from "../reference/index.ts";
import { MAX_INDEX_DEPTH, parseManifestDocument } from "../registry/index.ts";
import { bundleName } from "./names.ts";
import { planEntry, type DocumentFetcher } from "./plan.ts";
import { DEFAULT_CHOICE, parsePlatform, type PlatformChoice } from "./platforms.ts";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

interface Stored {
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
}

/** Documents by digest, as a registry would hold them. */
class Documents {
  readonly #byDigest = new Map<string, Buffer>();
  readonly fetched: string[] = [];

  put(document: object): Stored {
    const bytes = Buffer.from(JSON.stringify(document));
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    this.#byDigest.set(digest, bytes);
    return { digest, size: bytes.length, bytes };
  }

  fetch: DocumentFetcher = async ({ digest }) => {
    this.fetched.push(digest);
    const bytes = this.#byDigest.get(digest);
    if (bytes === undefined) throw new Error(`${digest}: not here`);
    const document = parseManifestDocument(bytes, digest);
    return Promise.resolve({ bytes, document, mediaType: document.mediaType ?? OCI_MANIFEST });
  };
}

function blob(name: string, size = 10): { mediaType: string; digest: string; size: number } {
  const digest = `sha256:${createHash("sha256").update(name).digest("hex")}`;
  return { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size };
}

function manifest(store: Documents, name: string, extra: object = {}): Stored & { blobs: string[] } {
  const config = { ...blob(`${name}/config`), mediaType: "application/vnd.oci.image.config.v1+json" };
  const layers = [blob(`${name}/layer-0`, 100), blob(`${name}/layer-1`, 200)];
  const stored = store.put({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, ...extra });
  return { ...stored, blobs: [config.digest, ...layers.map((layer) => layer.digest)] };
}

function child(
  stored: Stored,
  platform?: string,
): { mediaType: string; digest: string; size: number; platform?: object } {
  return {
    mediaType: OCI_MANIFEST,
    digest: stored.digest,
    size: stored.size,
    ...(platform === undefined ? {} : { platform: parsePlatform(platform) }),
  };
}

function multiPlatform(store: Documents, platforms: readonly string[]) {
  const manifests = new Map(platforms.map((platform) => [platform, manifest(store, platform)]));
  const index = store.put({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [...manifests].map(([platform, stored]) => child(stored, platform)),
  });
  return { index, manifests };
}

async function failureOf(promise: Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isClassifiedError(error)) return { kind: error.kind, message: error.message };
    throw error;
  }
  throw new Error("expected a failure");
}

describe("planEntry", () => {
  it("takes a plain manifest whole: itself, its config and its layers", async () => {
    const store = new Documents();
    const image = manifest(store, "plain");
    const plan = await planEntry(image.digest, store.fetch, DEFAULT_CHOICE);
    expect(plan.top).toEqual({ mediaType: OCI_MANIFEST, digest: image.digest, size: image.size });
    expect(plan.documents.map((d) => d.bytes)).toEqual([image.bytes]);
    expect(plan.blobs.map((b) => b.digest)).toEqual(image.blobs);
    expect(plan.platforms).toEqual([]);
  });

  it("keeps an index's bytes and takes linux/amd64 and linux/arm64 by default", async () => {
    const store = new Documents();
    const { index, manifests } = multiPlatform(store, [
      "linux/amd64",
      "linux/arm64/v8",
      "linux/arm/v7",
      "windows/amd64",
    ]);
    const plan = await planEntry(index.digest, store.fetch, DEFAULT_CHOICE);
    expect(plan.top).toEqual({ mediaType: OCI_INDEX, digest: index.digest, size: index.size });
    expect(plan.documents[0]?.bytes).toEqual(index.bytes);
    expect(plan.platforms).toEqual(["linux/amd64", "linux/arm64/v8"]);
    const taken = ["linux/amd64", "linux/arm64/v8"].map((p) => manifests.get(p));
    expect(plan.documents.map((d) => d.descriptor.digest)).toEqual([
      index.digest,
      ...taken.map((m) => m?.digest),
    ]);
    expect(plan.blobs.map((b) => b.digest)).toEqual(taken.flatMap((m) => m?.blobs));
    expect(store.fetched).not.toContain(manifests.get("linux/arm/v7")?.digest);
  });

  it("takes the --platform choices, a variant only when it matches, or every child", async () => {
    const store = new Documents();
    const { index } = multiPlatform(store, ["linux/amd64", "linux/arm/v6", "linux/arm/v7"]);
    const pick = async (choice: PlatformChoice) =>
      (await planEntry(index.digest, store.fetch, choice)).platforms;
    expect(await pick({ all: false, platforms: [parsePlatform("linux/arm/v7")] })).toEqual(["linux/arm/v7"]);
    expect(await pick({ all: false, platforms: [parsePlatform("linux/arm")] })).toEqual([
      "linux/arm/v6",
      "linux/arm/v7",
    ]);
    expect(await pick({ all: true })).toEqual(["linux/amd64", "linux/arm/v6", "linux/arm/v7"]);
  });

  it("always takes children without a platform (an artifact index)", async () => {
    const store = new Documents();
    const amd = manifest(store, "amd");
    const s390 = manifest(store, "s390x");
    const artifact = manifest(store, "signature", { artifactType: "application/vnd.example.sig" });
    const index = store.put({
      schemaVersion: 2,
      manifests: [child(amd, "linux/amd64"), child(s390, "linux/s390x"), child(artifact)],
    });
    const plan = await planEntry(index.digest, store.fetch, DEFAULT_CHOICE);
    expect(plan.documents.map((d) => d.descriptor.digest)).toEqual([
      index.digest,
      amd.digest,
      artifact.digest,
    ]);
    // An index without its own mediaType is named by its shape.
    expect(plan.top.mediaType).toBe(OCI_MANIFEST);
  });

  it("fails an index that has none of the chosen platforms, listing what it has", async () => {
    const store = new Documents();
    const { index } = multiPlatform(store, ["linux/s390x", "linux/ppc64le"]);
    expect(await failureOf(planEntry(index.digest, store.fetch, DEFAULT_CHOICE))).toEqual({
      kind: "not_found",
      message:
        "no manifest for linux/amd64, linux/arm64 (the index has linux/s390x, linux/ppc64le); choose with --platform, or take every one with --all-platforms",
    });
  });

  it("walks nested indexes, to a bound", async () => {
    const store = new Documents();
    const inner = multiPlatform(store, ["linux/amd64"]);
    const outer = store.put({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...child(inner.index), mediaType: OCI_INDEX }],
    });
    const plan = await planEntry(outer.digest, store.fetch, DEFAULT_CHOICE);
    expect(plan.documents.map((d) => d.descriptor.digest)).toEqual([
      outer.digest,
      inner.index.digest,
      inner.manifests.get("linux/amd64")?.digest,
    ]);

    let deepest = inner.index;
    for (let depth = 0; depth < MAX_INDEX_DEPTH; depth++) {
      deepest = store.put({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ ...child(deepest), mediaType: OCI_INDEX }],
      });
    }
    expect(await failureOf(planEntry(deepest.digest, store.fetch, DEFAULT_CHOICE))).toMatchObject({
      kind: "invalid",
      message: expect.stringContaining(`indexes nest deeper than ${MAX_INDEX_DEPTH}`) as string,
    });
  });

  it("stores a blob two manifests share once", async () => {
    const store = new Documents();
    const shared = blob("shared", 50);
    const config = (name: string) => ({
      ...blob(name),
      mediaType: "application/vnd.oci.image.config.v1+json",
    });
    const a = store.put({ schemaVersion: 2, config: config("a"), layers: [shared] });
    const b = store.put({ schemaVersion: 2, config: config("b"), layers: [shared] });
    const index = store.put({
      schemaVersion: 2,
      manifests: [child(a, "linux/amd64"), child(b, "linux/arm64")],
    });
    const plan = await planEntry(index.digest, store.fetch, DEFAULT_CHOICE);
    expect(plan.blobs.filter((item) => item.digest === shared.digest)).toHaveLength(1);
    expect(plan.blobs).toHaveLength(3);
  });
});

describe("parsePlatform", () => {
  it("reads os/arch[/variant] and refuses anything else as input", () => {
    expect(parsePlatform("linux/amd64")).toEqual({ os: "linux", architecture: "amd64" });
    expect(parsePlatform("linux/arm/v7")).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    for (const bad of ["linux", "linux/", "Linux/AMD64", "linux/arm/v7/x", "/amd64", ""]) {
      expect(() => parsePlatform(bad)).toThrow(/expected os\/arch\[\/variant\]/);
    }
  });
});

describe("bundleName", () => {
  const digest = `sha256:${"b".repeat(64)}`;
  it("is the full name with the tag kubelet looks up, or by digest when there is no tag", () => {
    expect(bundleName(parseReference("busybox:1.36"), digest)).toBe("docker.io/library/busybox:1.36");
    expect(bundleName(parseReference("busybox"), digest)).toBe("docker.io/library/busybox:latest");
    expect(bundleName(parseReference(`ghcr.io/a/b:v1@${digest}`), digest)).toBe("ghcr.io/a/b:v1");
    expect(bundleName(parseReference(`ghcr.io/a/b@${digest}`), digest)).toBe(`ghcr.io/a/b@${digest}`);
  });
});
