const REDACTED = "[redacted]";

/**
 * Runtime and registry messages sometimes echo URLs or headers; remove anything secret before the
 * text can reach a log, a status report or an error message. `secrets` are known values (the
 * password of this pull); the patterns catch credentials by shape.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 3) out = out.split(secret).join(REDACTED);
  }
  return out
    .replace(/(\/\/)[^/@\s:]+:[^/@\s]+@/g, `$1${REDACTED}@`)
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`)
    .replace(/\b((?:access_)?token|password|auth)=([^&\s"]+)/gi, `$1=${REDACTED}`);
}
