import { Command, CommanderError } from "commander";
import { isClassifiedError } from "../failure/index.ts";
import { ExitCode, UsageError, type CliContext, type CommandIO } from "./context.ts";
import { agentCommand } from "./agent.ts";
import { crioPinsCommand } from "./crio-pins.ts";
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

export function buildProgram(context: CliContext): Command {
  const program = new Command("prepull")
    .description(
      "Keep container images warm on Kubernetes nodes: pulled by digest, ahead of time, under the exact names pods use.",
    )
    .version(PREPULL_VERSION)
    .showSuggestionAfterError()
    .configureOutput({
      writeOut: (text) => context.io.stdout.write(text),
      writeErr: (text) => context.io.stderr.write(text),
    })
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
    command.exitOverride().configureOutput(program.configureOutput());
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
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`prepull: ${error.message}\n`);
      return ExitCode.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    const kind = isClassifiedError(error) ? ` (${error.kind})` : "";
    io.stderr.write(`prepull: error${kind}: ${message}\n`);
    return ExitCode.failed;
  }
}
