import { Command, CommanderError } from "commander";
import { isClassifiedError, isInputError } from "../failure/index.ts";
import { ExitCode, UsageError, type CliContext, type CommandIO } from "./context.ts";
import { agentCommand } from "./agent.ts";
import { crioPinsCommand } from "./crio-pins.ts";
import { errorLine } from "./failure-text.ts";
import { lockCommand } from "./lock.ts";
import { pinCommand } from "./pin.ts";
import { planCommand } from "./plan.ts";
import { statusCommand } from "./status.ts";
import { PREPULL_VERSION } from "./version.ts";
import { waitCommand } from "./wait.ts";
import { warmCommand } from "./warm.ts";

function processIO(): CommandIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/**
 * `option '--resync <duration>' argument '0s' is invalid. must be…` → `--resync "0s": must be…`,
 * and `… value '0s' from env 'PREPULL_RESYNC' is invalid. …` → `--resync "0s" (from PREPULL_RESYNC): …`.
 */
function commanderMessage(text: string): string {
  const message = text.replace(/^error: /, "").trim();
  const invalid =
    /^option '(?:-\w, )?(--[\w-]+)[^']*' (?:argument '(.*)'|value '(.*)' from env '(\w+)') is invalid\. (.*)$/s.exec(
      message,
    );
  if (invalid === null) return message;
  const [, flag = "", argument, envValue, env, reason = ""] = invalid;
  return env === undefined
    ? `${flag} "${argument ?? ""}": ${reason}`
    : `${flag} "${envValue ?? ""}" (from ${env}): ${reason}`;
}

export function buildProgram(context: CliContext): Command {
  const output = {
    writeOut: (text: string) => context.io.stdout.write(text),
    writeErr: (text: string) => context.io.stderr.write(text),
    // Commander's own messages ("error: unknown option '--x'") in the same shape as ours.
    outputError: (text: string, write: (text: string) => void) => {
      write(errorLine("usage", commanderMessage(text)));
    },
  };
  const program = new Command("prepull")
    .description(
      "Keep container images warm on Kubernetes nodes: pulled by digest, ahead of time, under the exact names pods use.",
    )
    .version(PREPULL_VERSION)
    .showSuggestionAfterError()
    .configureOutput(output)
    .exitOverride();
  program.addCommand(warmCommand(context));
  program.addCommand(agentCommand(context));
  program.addCommand(statusCommand(context));
  program.addCommand(lockCommand(context));
  program.addCommand(planCommand(context));
  program.addCommand(pinCommand(context));
  program.addCommand(waitCommand(context));
  program.addCommand(crioPinsCommand(context));
  for (const command of program.commands) {
    command.exitOverride().configureOutput(output);
  }
  return program;
}

/** Runs the CLI and returns the exit code; it never calls process.exit itself. */
export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const context: CliContext = { io, exitCode: ExitCode.ok };
  const program = buildProgram(context);
  try {
    await program.parseAsync(argv, { from: "user" });
    return context.exitCode;
  } catch (error) {
    // The one place where input errors, raised wherever input is read, become exit 2.
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (isInputError(error)) {
      io.stderr.write(errorLine(error instanceof UsageError ? "usage" : "input", error.message));
      return ExitCode.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(errorLine(isClassifiedError(error) ? error.kind : "error", message));
    return ExitCode.failed;
  }
}
