import { componentVersions } from "./harness/index.ts";

/** Vitest global setup: the report names every component the clusters run, and fails without them. */
export default function announceComponents(): void {
  process.stdout.write(
    `cluster components:\n${componentVersions()
      .map((line) => `  ${line}`)
      .join("\n")}\n`,
  );
}
