import { createHash } from "node:crypto";
import { z } from "zod";
import { ClassifiedError } from "../failure/index.ts";

/** Spegel's cap for a manifest: nothing legitimate comes near it, a hostile server stops there. */
export const MANIFEST_BODY_LIMIT = 4 * 1024 * 1024;
/** Token answers are a JWT or two and a few fields. */
export const TOKEN_BODY_LIMIT = 256 * 1024;
/** Enough of an error body to quote the registry's own error code. */
export const ERROR_BODY_LIMIT = 64 * 1024;

const INDEX_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
] as const;
const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;
export const MANIFEST_ACCEPT = [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES].join(", ");

const digest = z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, "not a digest");
const size = z.number().int().nonnegative();

const platformSchema = z
  .object({
    architecture: z.string(),
    os: z.string(),
    variant: z.string().optional(),
    "os.version": z.string().optional(),
  })
  .loose();

/** Any descriptor: artifacts put arbitrary media types in config and layers. */
const descriptor = z.object({ mediaType: z.string(), digest, size }).loose();

const indexSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    manifests: z.array(descriptor.extend({ platform: platformSchema.optional() })),
  })
  .loose();
/** An image manifest, or an OCI 1.1 artifact (`artifactType`, empty config, any layers). */
const manifestSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    config: descriptor,
    layers: z.array(descriptor).default([]),
  })
  .loose();
const manifestDocument = z.union([indexSchema, manifestSchema]);
export type ImageIndex = z.infer<typeof indexSchema>;
export type ImageManifest = z.infer<typeof manifestSchema>;
export type ManifestDocument = z.infer<typeof manifestDocument>;

const tokenSchema = z
  .object({
    token: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    expires_in: z.number().positive().optional(),
  })
  .loose();
export type TokenAnswer = z.infer<typeof tokenSchema>;

const errorSchema = z
  .object({
    errors: z.array(z.object({ code: z.string().optional(), message: z.string().optional() }).loose()),
  })
  .loose();

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue === undefined ? "invalid" : `${issue.path.join(".") || "document"}: ${issue.message}`;
}

export function isIndex(document: ManifestDocument): document is ImageIndex {
  return "manifests" in document;
}

/** A manifest or index as the registry sent it; `subject` names where it came from. */
export function parseManifestDocument(bytes: Buffer, subject: string): ManifestDocument {
  const parsed = manifestDocument.safeParse(parseJson(bytes));
  if (!parsed.success)
    throw new ClassifiedError("invalid", `${subject}: not a manifest or index (${firstIssue(parsed.error)})`);
  return parsed.data;
}

export function parseTokenAnswer(bytes: Buffer, subject: string): { token: string; expiresInS: number } {
  const parsed = tokenSchema.safeParse(parseJson(bytes));
  const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
  if (!parsed.success || token === undefined)
    throw new ClassifiedError("auth", `${subject} returned no token`);
  // The distribution spec's default lifetime when the service names none.
  return { token, expiresInS: parsed.data.expires_in ?? 60 };
}

/** `CODE: message` of a registry error document, or "" when the body is something else. */
export function registryErrorText(bytes: Buffer): string {
  const parsed = errorSchema.safeParse(parseJson(bytes));
  const first = parsed.success ? parsed.data.errors[0] : undefined;
  if (first === undefined) return "";
  return `${first.code ?? ""}${first.message ? `: ${first.message}` : ""}`;
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Bytes fetched by digest must hash to it; only sha256 is checked (the only one in use). */
export function verifyDigest(bytes: Buffer, expected: string, subject: string): void {
  if (!expected.startsWith("sha256:")) return;
  const actual = sha256Digest(bytes);
  if (actual !== expected)
    throw new ClassifiedError("invalid", `${subject}: content is ${actual}, not the requested ${expected}`);
}

/** What a pull of this manifest downloads: config plus every layer, whatever their media types. */
export function manifestSize(manifest: ImageManifest): number {
  return manifest.config.size + manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
}
