import { Command, CommanderError } from "commander";
import { errorMessage, isClassifiedError, isInputError } from "../failure/index.ts";
import { ExitCode, UsageError, type CliContext, type CommandIO } from "./context.ts";
import { errorLine } from "./failure-text.ts";
import { PREPULL_VERSION } from "./version.ts";

type CommandFactory = (context: CliContext) => Command;

/**
 * The commands in help order. Each module (and the libraries it pulls in) loads only when its
 * command runs or help lists them all: the agent starts without the manifest scanner, `plan`
 * without gRPC.
 */
const COMMANDS = new Map<string, () => Promise<CommandFactory>>([
  ["warm", async () => (await import("./warm.ts")).warmCommand],
  ["agent", async () => (await import("./agent.ts")).agentCommand],
  ["status", async () => (await import("./status.ts")).statusCommand],
  ["lock", async () => (await import("./lock.ts")).lockCommand],
  ["bundle", async () => (await import("./bundle.ts")).bundleCommand],
  ["plan", async () => (await import("./plan.ts")).planCommand],
  ["pin", async () => (await import("./pin.ts")).pinCommand],
  ["wait", async () => (await import("./wait.ts")).waitCommand],
  ["crio-pins", async () => (await import("./crio-pins.ts")).crioPinsCommand],
]);

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

/**
 * The program with the command `argv` names, or with every command when it names none (help,
 * `--version`, a mistyped name that gets a suggestion).
 */
export async function buildProgram(context: CliContext, argv: readonly string[]): Promise<Command> {
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
  const named = COMMANDS.get(argv[0] ?? "");
  const factories = await Promise.all(
    named === undefined ? [...COMMANDS.values()].map((load) => load()) : [named()],
  );
  for (const factory of factories) program.addCommand(factory(context));
  for (const command of program.commands) {
    command.exitOverride().configureOutput(output);
  }
  return program;
}

/** Runs the CLI and returns the exit code; it never calls process.exit itself. */
export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const context: CliContext = { io, exitCode: ExitCode.ok };
  const program = await buildProgram(context, argv);
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
    const message = errorMessage(error);
    io.stderr.write(errorLine(isClassifiedError(error) ? error.kind : "error", message));
    return ExitCode.failed;
  }
}
