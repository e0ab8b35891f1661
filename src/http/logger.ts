import { pino, type Logger } from "pino";
import { redactSecrets } from "../cri/index.ts";

/** Field paths that may hold secrets anywhere in a log object. */
const REDACT_PATHS = [
  "password",
  "auth",
  "token",
  "access_token",
  "identityToken",
  "registryToken",
  "authorization",
  "credentials",
  "*.password",
  "*.auth",
  "*.token",
  "*.access_token",
  "*.identityToken",
  "*.registryToken",
  "*.authorization",
  "*.credentials",
  "headers.authorization",
  "*.headers.authorization",
];

function scrub(value: unknown): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (value instanceof Error) return { type: value.name, message: redactSecrets(value.message) };
  return value;
}

/** JSON lines on stdout; secrets are removed by field name and by shape inside strings. */
export function createLogger(options: { level: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { name: "prepull" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: {
        log(object) {
          return Object.fromEntries(Object.entries(object).map(([key, value]) => [key, scrub(value)]));
        },
      },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === "string" ? redactSecrets(arg) : arg)) as Parameters<
              typeof method
            >,
          );
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
