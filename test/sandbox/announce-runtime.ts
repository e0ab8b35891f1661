import { debianVersionOf, runtimeBinaries, RUNTIME_VARIABLE, selectedRuntimeName } from "./runtimes.ts";

/** Vitest global setup: every test report names the runtime it ran on. */
export default function announceRuntime(): void {
  const name = selectedRuntimeName();
  try {
    const binaries = runtimeBinaries(name);
    const debian = debianVersionOf(name);
    process.stdout.write(
      `runtime: containerd ${binaries.version}${debian === undefined ? "" : ` (Debian ${debian})`} — ${name}; ${RUNTIME_VARIABLE} picks another\n`,
    );
  } catch (error) {
    // Tests that need it fail loudly on their own; the report still says what was asked for.
    process.stdout.write(`runtime: ${name} is not available: ${(error as Error).message}\n`);
  }
}
