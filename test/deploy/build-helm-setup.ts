import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Global setup of vitest's `charts` project (vitest.config.ts), so it runs only when a chart test
 * does: those tests run helm, built from its Go module by scripts/build-helm.sh — on first use
 * (minutes, cold), and in about a second after (the Go build cache). A failed build fails here,
 * with the script's own message.
 */
export default function buildHelm(): void {
  const script = fileURLToPath(new URL("../../scripts/build-helm.sh", import.meta.url));
  execFileSync("bash", [script], { stdio: ["ignore", "inherit", "inherit"] });
}
