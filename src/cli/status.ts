import { Command } from "commander";
import { ImageInventory } from "../warm/index.ts";
import { checkNode } from "../gate/index.ts";
import { loadDesiredState } from "../imageset/index.ts";
import { ExitCode, type CliContext } from "./context.ts";
import { addRuntimeOptions, outputOption, repeatableOption, type RuntimeFlags } from "./options.ts";
import { formatTable, shortDigest, TABLE_WIDTH } from "./table.ts";
import { formatBytes } from "./units.ts";

interface StatusFlags extends RuntimeFlags {
  readonly config?: string[];
  readonly output: "text" | "wide" | "json";
}

export function statusCommand(context: CliContext): Command {
  const command = new Command("status")
    .summary("show this node's images, or how far it is from an ImageSet")
    .description(
      "Without --config, list the images the runtime holds. With --config, compare one ListImages " +
        "answer against the set (nothing is pulled). Exit status: 0 when every entry is present, 1 otherwise, 2 on usage or input errors.",
    )
    .addOption(repeatableOption("--config <path>", "an ImageSet file or directory"))
    .addOption(outputOption(["text", "wide", "json"]));
  addRuntimeOptions(command);
  return command.action(async (flags: StatusFlags) => {
    const desired = flags.config === undefined ? undefined : await loadDesiredState(flags.config);
    const fit = flags.output === "wide" ? {} : { maxWidth: TABLE_WIDTH };
    const { connectRuntime } = await import("./runtime.ts");
    const runtime = connectRuntime(flags, context.io.env);
    try {
      const inventory = new ImageInventory(await runtime.listImages());
      if (desired === undefined) {
        context.io.stdout.write(
          flags.output === "json"
            ? JSON.stringify({ images: inventory.images }, null, 2) + "\n"
            : formatTable(
                ["IMAGE", "ID", "SIZE"],
                inventory.images.map((image) => [
                  [...image.repoTags, ...image.repoDigests].join(", ") || "<none>",
                  image.id.replace(/^sha256:/, "").slice(0, 12),
                  formatBytes(image.size),
                ]),
                fit,
              ),
        );
        return;
      }
      const { entries: rows, warm, gate } = checkNode(desired.entries, inventory);
      context.io.stdout.write(
        flags.output === "json"
          ? JSON.stringify({ generation: desired.generation, warm, gate, entries: rows }, null, 2) + "\n"
          : formatTable(
              ["IMAGE", "STATE", "INTENDED", "LOCAL"],
              rows.map((row) => [
                row.image,
                row.state,
                flags.output === "wide" ? (row.digest ?? "-") : shortDigest(row.digest),
                flags.output === "wide" ? (row.localDigest ?? "-") : shortDigest(row.localDigest),
              ]),
              fit,
            ) +
              `\ngeneration ${desired.generation}: ${warm ? "warm" : "not warm"}\n` +
              `readiness gate: ${gate.open ? "would open" : "would stay closed"} (${gate.reason}: ${gate.message})\n`,
      );
      context.exitCode = warm ? ExitCode.ok : ExitCode.failed;
    } finally {
      runtime.close();
    }
  });
}
