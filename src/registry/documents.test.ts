import { describe, expect, it } from "vitest";
import { isClassifiedError } from "../failure/index.ts";
import {
  isIndex,
  manifestSize,
  parseManifestDocument,
  parseTokenAnswer,
  registryErrorText,
  sha256Digest,
  verifyDigest,
} from "./documents.ts";
import { selectManifest } from "./platform.ts";

const D = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

function failure(run: () => unknown): { kind: string; message: string } {
  try {
    run();
  } catch (error) {
    if (isClassifiedError(error)) return { kind: error.kind, message: error.message };
    throw error;
  }
  throw new Error("expected a failure");
}

describe("manifest documents at the wire", () => {
  it("reads an image manifest and sums config and layers", () => {
    const document = parseManifestDocument(
      json({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: D(1), size: 100 },
        layers: [
          { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: D(2), size: 1000 },
          { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: D(3), size: 24 },
        ],
      }),
      "x",
    );
    expect(isIndex(document)).toBe(false);
    if (!isIndex(document)) expect(manifestSize(document)).toBe(1124);
  });

  it("accepts OCI artifacts: artifactType, the empty config and layers of any media type", () => {
    const document = parseManifestDocument(
      json({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        artifactType: "application/vnd.example.data.v1",
        config: { mediaType: "application/vnd.oci.empty.v1+json", digest: D(4), size: 2, data: "e30=" },
        layers: [
          { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: D(5), size: 3072 },
          { mediaType: "application/x-anything", digest: D(6), size: 10, annotations: { a: "b" } },
        ],
        subject: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: D(7), size: 9 },
      }),
      "x",
    );
    expect(!isIndex(document) && manifestSize(document)).toBe(3084);
  });

  it("reads an index and picks this node's entry, or one without a platform", () => {
    const index = parseManifestDocument(
      json({
        schemaVersion: 2,
        manifests: [
          { mediaType: "m", digest: D(1), size: 1, platform: { os: "linux", architecture: "arm64" } },
          { mediaType: "m", digest: D(2), size: 1 },
          { mediaType: "m", digest: D(3), size: 1, platform: { os: "linux", architecture: "amd64" } },
        ],
      }),
      "x",
    );
    if (!isIndex(index)) throw new Error("expected an index");
    expect(selectManifest(index, { os: "linux", architecture: "amd64" })?.digest).toBe(D(3));
    expect(selectManifest(index, { os: "linux", architecture: "s390x" })?.digest).toBe(D(2));
  });

  it.each([
    ["not JSON", Buffer.from("<html>")],
    ["a JSON string", json("manifest")],
    ["schema version 1", json({ schemaVersion: 1, config: {}, layers: [] })],
    [
      "a negative size",
      json({ schemaVersion: 2, config: { mediaType: "c", digest: D(1), size: -1 }, layers: [] }),
    ],
    ["a bad digest", json({ schemaVersion: 2, config: { mediaType: "c", digest: "abc", size: 1 } })],
    ["an index entry without digest", json({ schemaVersion: 2, manifests: [{ mediaType: "m", size: 1 }] })],
  ])("rejects %s as invalid, naming the source", (_, bytes) => {
    const { kind, message } = failure(() => parseManifestDocument(bytes, "reg/app:1 at https://reg"));
    expect(kind).toBe("invalid");
    expect(message).toMatch(/^reg\/app:1 at https:\/\/reg: not a manifest or index/);
  });

  it("checks that content fetched by digest hashes to it", () => {
    const bytes = Buffer.from("{}");
    expect(() => {
      verifyDigest(bytes, sha256Digest(bytes), "x");
    }).not.toThrow();
    expect(
      failure(() => {
        verifyDigest(bytes, D(9), "x");
      }).kind,
    ).toBe("invalid");
  });
});

describe("token answers", () => {
  it("takes token or access_token, with the spec's 60 s default lifetime", () => {
    expect(parseTokenAnswer(json({ token: "t", expires_in: 300 }), "s")).toEqual({
      token: "t",
      expiresInS: 300,
    });
    expect(parseTokenAnswer(json({ access_token: "a" }), "s")).toEqual({ token: "a", expiresInS: 60 });
  });

  it("fails as auth when there is no token, without quoting the body", () => {
    const { kind, message } = failure(() => parseTokenAnswer(json({ secret: "hunter2" }), "token service x"));
    expect(kind).toBe("auth");
    expect(message).not.toContain("hunter2");
    expect(failure(() => parseTokenAnswer(json({ token: "t", expires_in: "soon" }), "s")).kind).toBe("auth");
  });
});

describe("registry error documents", () => {
  it("quotes the first error's code and message, and nothing for other bodies", () => {
    expect(registryErrorText(json({ errors: [{ code: "MANIFEST_UNKNOWN", message: "unknown" }] }))).toBe(
      "MANIFEST_UNKNOWN: unknown",
    );
    expect(registryErrorText(Buffer.from("boom"))).toBe("");
    expect(registryErrorText(json({ errors: "no" }))).toBe("");
  });
});
