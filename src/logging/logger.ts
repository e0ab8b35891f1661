import { pino, type Logger as PinoLogger } from "pino";
import { redactSecrets } from "../failure/index.ts";

/**
 * What every part of prepull logs through: structured fields first, then the message. The
 * agent's logger (below) is one; a part that logs nothing by default takes it as optional.
 */
export interface Logger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

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

/** Strings anywhere in a log object, error stacks included, lose what looks like a secret. */
function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (value instanceof Error) return { type: value.name, message: redactSecrets(value.message) };
  if (depth >= 6 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => scrub(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrub(item, depth + 1)]));
}

/** JSON lines on stdout; secrets are removed by field name and by shape inside strings. */
export function createLogger(options: {
  level: string;
  destination?: NodeJS.WritableStream;
}): Logger & Pick<PinoLogger, "flush"> {
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
          // pino takes the message of a bare Error as the line's msg, past the formatters.
          const [first, ...rest] = args as unknown[];
          const spread =
            first instanceof Error
              ? [{ err: scrub(first) }, ...(typeof rest[0] === "string" ? rest : [first.message, ...rest])]
              : (args as unknown[]);
          method.apply(
            this,
            spread.map((arg) => (typeof arg === "string" ? redactSecrets(arg) : arg)) as Parameters<
              typeof method
            >,
          );
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
