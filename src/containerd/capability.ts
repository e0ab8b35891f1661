import type { ContainerdApi } from "./types.ts";
import { labelFilter, OWNER_LABEL } from "../pins/index.ts";
import { errorMessage } from "../failure/index.ts";

/** Whether a feature works on this node's runtime, and why not when it does not. */
export type Capability =
  { readonly available: true } | { readonly available: false; readonly reason: string };

export interface ContainerdCapabilities {
  /** containerd's own version (`2.1.9`, `1.7.24~ds1`), when it answered. */
  readonly version: string | undefined;
  readonly pinning: Capability;
  readonly progress: Capability;
}

const AVAILABLE: Capability = { available: true };

/**
 * containerd reports CRI `Image.pinned` from the pin label since 1.7; 1.6 keeps the label but
 * ignores it, so kubelet would still collect the image.
 */
export function pinningSupport(version: string): Capability {
  const match = /^v?(\d+)\.(\d+)/.exec(version.trim());
  if (match === null)
    return { available: false, reason: `cannot read a version from containerd's "${version}"` };
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major > 1 || (major === 1 && minor >= 7)) return AVAILABLE;
  return {
    available: false,
    reason: `containerd ${version} ignores the io.cri-containerd.pinned label (pins need containerd 1.7 or later)`,
  };
}

function unavailable(error: unknown): Capability {
  return { available: false, reason: errorMessage(error) };
}

/**
 * Asks the runtime what it can do beyond CRI. `criRuntimeName` is CRI's `runtime_name` when
 * known: a runtime that is not containerd is reported without a call.
 */
export async function probeContainerd(
  api: ContainerdApi,
  options: { criRuntimeName?: string; timeoutMs?: number } = {},
): Promise<ContainerdCapabilities> {
  const callOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  if (options.criRuntimeName !== undefined && options.criRuntimeName !== "containerd") {
    const reason =
      options.criRuntimeName === "cri-o"
        ? "CRI-O pins through pinned_images in its configuration, not through an API"
        : `the runtime is ${options.criRuntimeName}, not containerd`;
    return {
      version: undefined,
      pinning: { available: false, reason },
      progress: { available: false, reason },
    };
  }
  let version: string;
  try {
    version = (await api.version(callOptions)).version;
  } catch (error) {
    return { version: undefined, pinning: unavailable(error), progress: unavailable(error) };
  }
  const [pinning, progress] = await Promise.all([
    api.listImages([labelFilter(OWNER_LABEL)], callOptions).then(
      () => pinningSupport(version),
      (error: unknown) => unavailable(error),
    ),
    api.listIngests(callOptions).then(
      () => AVAILABLE,
      (error: unknown) => unavailable(error),
    ),
  ]);
  return { version, pinning, progress };
}
