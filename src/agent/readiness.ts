import type { StatusOverview } from "../http/index.ts";

/** What /readyz says: ready once started, or (`warm`) once the current generation is warm. */
export function readinessOf(
  readyWhen: "started" | "warm",
  current: () => Pick<StatusOverview, "warm" | "summary"> & { readonly generation: string },
): { ok: boolean; reason: string } {
  if (readyWhen === "started") return { ok: true, reason: "started" };
  const { warm, summary, generation } = current();
  return warm
    ? { ok: true, reason: `warm at generation ${generation}` }
    : { ok: false, reason: `not warm: ${summary.present}/${summary.total} present` };
}
