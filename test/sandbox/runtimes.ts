import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The containerd runtimes of the test matrix. `containerd-2` and `containerd-1.7` are Debian's
 * packages unpacked by scripts/fetch-runtimes.sh; `containerd-1.6` is the machine's own.
 */
export const RUNTIME_NAMES = ["containerd-2", "containerd-1.7", "containerd-1.6"] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** The runtime tests, the demo and the benchmarks use unless told otherwise. */
export const DEFAULT_RUNTIME: RuntimeName = "containerd-2";

/** The environment variable that picks one runtime of the matrix. */
export const RUNTIME_VARIABLE = "PREPULL_TEST_RUNTIME";

export interface RuntimeBinaries {
  readonly name: RuntimeName;
  /** The folder holding containerd, ctr and containerd-shim-runc-v2. */
  readonly binDir: string;
  readonly containerd: string;
  readonly ctr: string;
  /** As `containerd --version` prints it, e.g. `2.1.9`. */
  readonly version: string;
  readonly major: number;
  readonly minor: number;
}

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));

function binDirOf(name: RuntimeName): string {
  if (name === "containerd-1.6") return "/usr/bin";
  return join(projectRoot, ".cache", "runtimes", name, "usr", "bin");
}

const cache = new Map<RuntimeName, RuntimeBinaries>();

/** Finds a runtime of the matrix and reads its version; fails loudly when it is not there. */
export function runtimeBinaries(name: RuntimeName = selectedRuntimeName()): RuntimeBinaries {
  const known = cache.get(name);
  if (known !== undefined) return known;
  const binDir = binDirOf(name);
  const containerd = join(binDir, "containerd");
  if (!existsSync(containerd)) {
    const remedy =
      name === "containerd-1.6"
        ? "install Debian's containerd package (scripts/install-sandbox-deps.sh)"
        : `run scripts/fetch-runtimes.sh ${name}`;
    throw new Error(`runtime ${name} is not installed (${containerd} is missing): ${remedy}`);
  }
  const printed = execFileSync(containerd, ["--version"], { encoding: "utf8" });
  // "containerd github.com/containerd/containerd/v2 2.1.9+unknown" or "… 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
  const match = /\s(\d+)\.(\d+)\.(\d+)/.exec(printed);
  if (match === null) throw new Error(`runtime ${name}: cannot read a version from "${printed.trim()}"`);
  const [, major = "0", minor = "0", patch = "0"] = match;
  const wanted = /^containerd-(\d+)(?:\.(\d+))?$/.exec(name);
  if (wanted?.[1] !== major || (wanted[2] !== undefined && wanted[2] !== minor)) {
    throw new Error(`runtime ${name}: ${containerd} is containerd ${major}.${minor}.${patch}`);
  }
  const binaries: RuntimeBinaries = {
    name,
    binDir,
    containerd,
    ctr: join(binDir, "ctr"),
    version: `${major}.${minor}.${patch}`,
    major: Number(major),
    minor: Number(minor),
  };
  cache.set(name, binaries);
  return binaries;
}

export function selectedRuntimeName(): RuntimeName {
  const chosen = process.env[RUNTIME_VARIABLE]?.trim();
  if (chosen === undefined || chosen === "") return DEFAULT_RUNTIME;
  if (!(RUNTIME_NAMES as readonly string[]).includes(chosen)) {
    throw new Error(
      `${RUNTIME_VARIABLE}=${chosen} is not a runtime of the matrix (${RUNTIME_NAMES.join(", ")})`,
    );
  }
  return chosen as RuntimeName;
}

/** The Debian package version the runtime came from, for reports. */
export function debianVersionOf(name: RuntimeName): string | undefined {
  try {
    if (name === "containerd-1.6") {
      return execFileSync("dpkg-query", ["-W", "-f=${Version}", "containerd"], { encoding: "utf8" }).trim();
    }
    return readFileSync(join(projectRoot, ".cache", "runtimes", name, "DEBIAN_VERSION"), "utf8").trim();
  } catch {
    return undefined;
  }
}
