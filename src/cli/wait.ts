import { Command, InvalidArgumentError, Option } from "commander";
// eslint-disable-next-line no-restricted-imports -- start-up speed: the address parser alone; the barrier and its HTTP client load only when a wait runs.
import { parseAgentAddress, type AgentAddress } from "../cluster/address.ts";
import type { AgentSource, BarrierVerdict, NodeVerdict, WaitTarget } from "../cluster/index.ts";
import { loadDesiredState } from "../imageset/index.ts";
import { parseReference } from "../reference/index.ts";
import { ExitCode, UsageError, type CliContext } from "./context.ts";
import { shortenFailure } from "./failure-text.ts";
import { durationOption, outputOption, positiveIntegerOption, repeatableOption } from "./options.ts";
import { formatTable, TABLE_WIDTH } from "./table.ts";
import { formatSeconds, roundSeconds } from "./units.ts";
// eslint-disable-next-line no-restricted-imports -- start-up speed: the parser alone, not the folder's face; the API client loads only when a wait needs it.
import { parseDaemonSetName, type DaemonSetName } from "../kube/daemonset.ts";

interface WaitFlags {
  readonly agents?: AgentAddress[];
  readonly agentsDns?: AgentAddress;
  readonly generation?: string;
  readonly config?: string[];
  readonly image?: string[];
  readonly minAgents: number;
  readonly daemonset?: DaemonSetName;
  readonly timeout: number;
  readonly interval: number;
  readonly output: "text" | "wide" | "json";
}

/** Missing images listed per node in the final report; the rest are counted. */
const MISSING_SHOWN = 10;

function addressArgument(value: string): AgentAddress {
  try {
    return parseAgentAddress(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function daemonSetArgument(value: string): DaemonSetName {
  try {
    return parseDaemonSetName(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function addressList(value: string, previous: AgentAddress[] | undefined): AgentAddress[] {
  const parts = value.split(",").filter((part) => part.trim() !== "");
  return [...(previous ?? []), ...parts.map(addressArgument)];
}

async function targetOf(flags: WaitFlags): Promise<WaitTarget> {
  const given = [flags.generation, flags.config, flags.image].filter((value) => value !== undefined);
  if (given.length > 1) throw new UsageError("give only one of --generation, --config and --image");
  if (flags.generation !== undefined) return { kind: "generation", generation: flags.generation };
  if (flags.config !== undefined) {
    return { kind: "generation", generation: (await loadDesiredState(flags.config)).generation };
  }
  if (flags.image !== undefined) {
    return { kind: "images", images: flags.image.map((image) => parseReference(image)) };
  }
  return { kind: "own" };
}

function sourceOf(flags: WaitFlags): AgentSource {
  if (flags.agents !== undefined && flags.agentsDns !== undefined) {
    throw new UsageError("give either --agents or --agents-dns, not both");
  }
  if (flags.agentsDns !== undefined) return { kind: "dns", service: flags.agentsDns };
  if (flags.agents !== undefined && flags.agents.length > 0) return { kind: "static", agents: flags.agents };
  throw new UsageError("say where the agents are: --agents HOST:PORT[,…] or --agents-dns SERVICE:PORT");
}

function tableOf(verdict: BarrierVerdict, wide: boolean): string {
  return formatTable(
    ["NODE", "AGENT", "GENERATION", "STATE", "GATE", "IMAGES", "DETAIL"],
    verdict.nodes.map((node) => [
      node.node ?? "?",
      node.agent,
      node.generation?.slice(0, 12) ?? "-",
      node.state,
      node.gate ?? "-",
      node.total === 0 && node.state !== "warm" ? "-" : `${String(node.present)}/${String(node.total)}`,
      node.state === "warm" ? "" : node.reason,
    ]),
    wide ? {} : { maxWidth: TABLE_WIDTH },
  );
}

function nodeReport(node: NodeVerdict): string {
  const who = node.node === null ? node.agent : `${node.node} (${node.agent})`;
  const lines = [`${who}: ${node.state}: ${node.reason}`];
  for (const missing of node.missing.slice(0, MISSING_SHOWN)) {
    const kind = missing.errorKind === null ? "" : `: ${missing.errorKind}`;
    const message = missing.message === null ? "" : `: ${shortenFailure(missing.image, missing.message)}`;
    lines.push(`  ${missing.image}: ${missing.state}${kind}${message}`);
  }
  if (node.missing.length > MISSING_SHOWN) {
    lines.push(`  … and ${String(node.missing.length - MISSING_SHOWN)} more`);
  }
  return lines.join("\n") + "\n";
}

function finalReport(verdict: BarrierVerdict, timedOut: boolean, seconds: number, wide: boolean): string {
  const notWarm = verdict.nodes.filter((node) => node.state !== "warm");
  const outcome = verdict.done
    ? `${verdict.nodes.length === 1 ? "the agent is" : `all ${String(verdict.nodes.length)} agents`} warm after ${formatSeconds(seconds)}`
    : `${timedOut ? "timed out" : "failed"} after ${formatSeconds(seconds)}: ${verdict.reason}`;
  return (
    tableOf(verdict, wide) +
    (notWarm.length > 0 ? `\n${notWarm.map(nodeReport).join("")}` : "") +
    `\n${outcome}\n`
  );
}

/** One line per change for logs (a Job's output is not a terminal). */
function progressLine(verdict: BarrierVerdict, seconds: number): string {
  const pending = verdict.nodes
    .filter((node) => node.state !== "warm")
    .slice(0, 3)
    .map((node) => `${node.node ?? node.agent}: ${node.reason}`);
  return `[${formatSeconds(seconds)}] ${verdict.reason}${pending.length > 0 ? `; ${pending.join("; ")}` : ""}\n`;
}

/**
 * What the user sees while waiting: on a terminal a table redrawn every round; otherwise one line
 * on stderr whenever the picture changes (a Job's log stays readable); then the final report.
 */
function roundPrinter(
  io: CliContext["io"],
  output: WaitFlags["output"],
  elapsed: () => number,
): {
  round: (verdict: BarrierVerdict) => void;
  finish: (verdict: BarrierVerdict, timedOut: boolean) => void;
} {
  const wide = output === "wide";
  const live = output !== "json" && io.stdout.isTTY === true;
  let drawnLines = 0;
  let lastState = "";
  const erase = (): string => (drawnLines > 0 ? `\x1b[${String(drawnLines)}F\x1b[J` : "");
  return {
    round: (verdict) => {
      if (output === "json") return;
      if (live) {
        const table = `${tableOf(verdict, wide)}${verdict.reason} (${formatSeconds(elapsed())})\n`;
        io.stdout.write(erase() + table);
        drawnLines = table.split("\n").length - 1;
        return;
      }
      const line = progressLine(verdict, elapsed());
      const state = line.replace(/^\[[^\]]*\] /, "");
      if (state !== lastState) io.stderr.write(line);
      lastState = state;
    },
    finish: (verdict, timedOut) => {
      if (output === "json") {
        const { done, reason, nodes } = verdict;
        io.stdout.write(
          JSON.stringify({ done, timedOut, reason, seconds: roundSeconds(elapsed()), nodes }, null, 2) + "\n",
        );
        return;
      }
      io.stdout.write(erase() + finalReport(verdict, timedOut, elapsed(), wide));
    },
  };
}

export function waitCommand(context: CliContext): Command {
  return new Command("wait")
    .summary("wait until every agent in the cluster is warm (a barrier for pre-rollout jobs)")
    .description(
      "Poll every agent's /v1/status until all are warm: for their own current set (the default), for " +
        "one generation (--generation, or --config to compute it from the ImageSet files you applied), " +
        "or for a list of images (--image). An unreachable agent counts as not warm. Entries that will " +
        "not get better by waiting (not_found, auth, invalid, unsupported, drifted) or an agent's config error end " +
        "the wait early.\n\n" +
        "Exit status: 0 when every agent is warm, 1 on timeout or failure (with a per-node report), " +
        "2 on usage or input errors.",
    )
    .addOption(
      new Option("--agents <host:port,...>", "agent addresses, comma-separated or repeated")
        .argParser(addressList)
        .env("PREPULL_AGENTS"),
    )
    .addOption(
      new Option(
        "--agents-dns <service:port>",
        "a headless Service's name: every A/AAAA record is an agent (resolved every round)",
      )
        .argParser(addressArgument)
        .env("PREPULL_AGENTS_DNS"),
    )
    .addOption(
      new Option("--generation <generation>", "the generation every agent must be warm for").env(
        "PREPULL_GENERATION",
      ),
    )
    .addOption(
      repeatableOption("--config <path>", "an ImageSet file or directory: wait for their generation").env(
        "PREPULL_CONFIG",
      ),
    )
    .addOption(
      repeatableOption("--image <reference>", "an image every agent must hold (and have in its set)", {
        commas: true,
      }),
    )
    .addOption(
      positiveIntegerOption("--min-agents <n>", "not done until at least this many agents answer", 1).env(
        "PREPULL_MIN_AGENTS",
      ),
    )
    .addOption(
      new Option(
        "--daemonset <[namespace/]name>",
        "expect an agent on every node this DaemonSet is scheduled on (status.desiredNumberScheduled, " +
          "read as the pod's service account; needs get on that DaemonSet); --min-agents is the fallback when the API cannot be read",
      )
        .argParser(daemonSetArgument)
        .env("PREPULL_DAEMONSET"),
    )
    .addOption(
      // Zero is one round: "are they warm now?".
      durationOption("-t, --timeout <duration>", "give up after this long", "15m", { allowZero: true }).env(
        "PREPULL_TIMEOUT",
      ),
    )
    .addOption(durationOption("--interval <duration>", "time between polls", "5s").env("PREPULL_INTERVAL"))
    .addOption(outputOption(["text", "wide", "json"]))
    .action(async (flags: WaitFlags) => {
      const source = sourceOf(flags);
      const target = await targetOf(flags);
      const started = performance.now();
      const elapsed = (): number => (performance.now() - started) / 1000;
      const printer = roundPrinter(context.io, flags.output, elapsed);
      const { daemonSetExpectation, statusRequestTimeout, waitForAgents } =
        await import("../cluster/index.ts");
      const requestTimeoutMs = statusRequestTimeout(flags.interval);
      const expectation =
        flags.daemonset === undefined ? undefined : daemonSetExpectation(flags.daemonset, requestTimeoutMs);
      const { verdict, timedOut } = await waitForAgents({
        source,
        target,
        timeoutMs: flags.timeout,
        intervalMs: flags.interval,
        requestTimeoutMs,
        minAgents: flags.minAgents,
        ...(expectation === undefined ? {} : { expectedAgents: expectation.expected }),
        onRound: printer.round,
      }).finally(() => expectation?.close());
      printer.finish(verdict, timedOut);
      context.exitCode = verdict.done ? ExitCode.ok : ExitCode.failed;
    });
}
