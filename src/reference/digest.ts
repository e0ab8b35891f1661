/** Content digests as the OCI image spec writes them: `algorithm:hex`. Pure. */

export type DigestAlgorithm = "sha256" | "sha512";

const DIGEST_HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_ALGORITHM_GRAMMAR = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*$/;

class InvalidDigestError extends Error {
  readonly digest: string;
  readonly reason: string;

  constructor(digest: string, reason: string) {
    super(`invalid digest "${digest}": ${reason}`);
    this.name = "InvalidDigestError";
    this.digest = digest;
    this.reason = reason;
  }
}

export function digestProblem(text: string): string | undefined {
  const colon = text.indexOf(":");
  if (colon <= 0) return "expected algorithm:hex, e.g. sha256:<64 hex characters>";
  const algorithm = text.slice(0, colon);
  const hex = text.slice(colon + 1);
  if (!DIGEST_ALGORITHM_GRAMMAR.test(algorithm)) return `malformed digest algorithm "${algorithm}"`;
  if (!(algorithm in DIGEST_HEX_LENGTH))
    return `unsupported digest algorithm "${algorithm}" (sha256 or sha512)`;
  const expected = DIGEST_HEX_LENGTH[algorithm as DigestAlgorithm];
  if (/[A-F]/.test(hex)) return "digest hex must be lowercase";
  if (!/^[a-f0-9]*$/.test(hex)) return "digest must be hexadecimal after the algorithm";
  if (hex.length !== expected)
    return `${algorithm} digest must have ${expected} hex characters, not ${hex.length}`;
  return undefined;
}

export function parseDigest(text: string): { algorithm: DigestAlgorithm; hex: string } {
  const problem = digestProblem(text);
  if (problem !== undefined) throw new InvalidDigestError(text, problem);
  const colon = text.indexOf(":");
  return { algorithm: text.slice(0, colon) as DigestAlgorithm, hex: text.slice(colon + 1) };
}
