import { hostname } from "node:os";
import { InvalidArgumentError, Option, type Command } from "commander";
import type { DeadlineAction } from "../gate/index.ts";
import { booleanValue, durationOption } from "./options.ts";

export interface GateFlags {
  /** Milliseconds from the agent's start; 0 for no deadline. */
  readonly gateDeadline: number;
  readonly gateAtDeadline: DeadlineAction;
  readonly gateNodeCondition: boolean;
  readonly gateRemoveTaint?: { key: string; effect?: string };
}

const EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
// A qualified name, as the API server validates taint keys: [prefix/]name.
const TAINT_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** `KEY[:EFFECT]`, the form kubelet's --register-with-taints and Karpenter's startupTaints name a taint in. */
export function parseTaint(value: string): { key: string; effect?: string } {
  const [key = "", effect, ...rest] = value.trim().split(":");
  if (rest.length > 0 || !TAINT_KEY.test(key) || key.length > 316) {
    throw new InvalidArgumentError(
      `expected KEY[:EFFECT] with a taint key such as example.com/images-warm, not "${value}"`,
    );
  }
  if (effect !== undefined && !EFFECTS.includes(effect)) {
    throw new InvalidArgumentError(
      `the taint's effect must be one of ${EFFECTS.join(", ")}, not "${effect}"`,
    );
  }
  return effect === undefined ? { key } : { key, effect };
}

/** The readiness gate's flags (docs/readiness-gate.md). */
export function addGateOptions(command: Command): Command {
  return command
    .addOption(
      durationOption(
        "--gate-deadline <duration>",
        "how long after the agent starts the readiness gate may stay closed; 0 for no deadline",
        "30m",
        { allowZero: true },
      ).env("PREPULL_GATE_DEADLINE"),
    )
    .addOption(
      new Option(
        "--gate-at-deadline <action>",
        "a gate still closed at its deadline: open it anyway, or hold it",
      )
        .choices(["open", "hold"])
        .default("open")
        .env("PREPULL_GATE_AT_DEADLINE"),
    )
    .addOption(
      new Option(
        "--gate-node-condition [bool]",
        "set the PrepullImagesWarm condition on this node (needs the gate's RBAC: deploy/components/readiness-gate)",
      )
        .default(false)
        .preset("true")
        .argParser(booleanValue)
        .env("PREPULL_GATE_NODE_CONDITION"),
    )
    .addOption(
      new Option(
        "--gate-remove-taint <key[:effect]>",
        "remove this startup taint from this node once the gate opens (needs the gate's RBAC)",
      )
        .argParser(parseTaint)
        .env("PREPULL_GATE_REMOVE_TAINT"),
    );
}

/** The agent's gate options; the pod's name from POD_NAME (the downward API), else the hostname a pod has. */
export function gateOptionsOf(flags: GateFlags, env: NodeJS.ProcessEnv) {
  return {
    podName: env.POD_NAME?.trim() || hostname(),
    deadlineMs: flags.gateDeadline === 0 ? null : flags.gateDeadline,
    atDeadline: flags.gateAtDeadline,
    condition: flags.gateNodeCondition,
    taint: flags.gateRemoveTaint,
  };
}
