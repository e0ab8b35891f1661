import { runtimeSupport, type RuntimeSupport } from "../cri/index.ts";
import type { WarmLogger } from "../warm/index.ts";

/**
 * What prepull knows of the runtime's version, for status; the first time a version past its end
 * of life (or one prepull does not test) is seen, the log says so once.
 */
export function supportWatcher(
  logger: Pick<WarmLogger, "warn">,
): (name: string | null, version: string | null) => RuntimeSupport | null {
  let seen: string | undefined;
  let support: RuntimeSupport | null = null;
  return (name, version) => {
    if (name === null || version === null) return null;
    const key = `${name} ${version}`;
    if (key !== seen) {
      seen = key;
      support = runtimeSupport(name, version);
      if (support.note !== null) logger.warn({ runtime: key, support: support.level }, support.note);
    }
    return support;
  };
}
