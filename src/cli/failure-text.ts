import { sameImageName } from "../reference/index.ts";

/**
 * Links of containerd's and grpc's error chains that only restate what is being done
 * ("failed to pull and unpack image …: failed to resolve reference …: …"), and our own call prefix.
 */
const WRAPPER =
  /^(?:(?:PullImage|ImageStatus|ListImages|RemoveImage)\b|rpc error: code = \w+ desc = |failed to (?:pull and unpack image|pull image|resolve reference|resolve image|unpack image|copy|do request|fetch|get reader|open)\b|httpReadSeeker\b|failed open\b|error pulling image configuration\b)/i;

function unquoted(text: string): string {
  return text.replace(/^"(.*)"$/, "$1");
}

/**
 * The part of a failure message an operator acts on, for a report that already names the image:
 * wrapper links dropped, the image's own name dropped wherever a link is nothing but that name.
 * `failed to pull and unpack image "r/x:1": failed to resolve reference "r/x:1": r/x:1: not found`
 * becomes `not found`; the registry client's `r/x:1 at https://r: …` becomes `https://r: …`. A message with nothing else left is kept whole.
 */
export function shortenFailure(image: string, message: string): string {
  const links = message.split(": ");
  const same = (text: string): boolean => sameImageName(unquoted(text.trim()), image);
  const kept = links
    .map((link) => link.replace(/^rpc error: code = \w+ desc = /, ""))
    .filter((link) => !WRAPPER.test(link) && !same(link))
    .map((link) => {
      // "REF at https://registry" → "https://registry"; "… refused … for REF" → "… refused …".
      const at = /^(\S+) at (\S+)$/.exec(link);
      if (at !== null && same(at[1] ?? "")) return at[2] ?? link;
      const tail = /^(.*) for (\S+)$/.exec(link);
      return tail !== null && same(tail[2] ?? "") ? (tail[1] ?? link) : link;
    });
  return kept.length === 0 ? message : kept.join(": ");
}

/**
 * Every error the CLI prints has one shape, `prepull: <kind>: <message>`: `usage` for flags and
 * arguments, `input` for files, fields, references and values the user gave (both exit 2), a
 * failure kind (`network`, `auth`, …) or `error` for the rest (exit 1).
 */
export function errorLine(kind: string, message: string): string {
  return `prepull: ${kind}: ${message.replace(/\s*\n\s*/g, " ").trim()}\n`;
}

/** `IMAGE: KIND: message`: one line per image in every report. */
export function failureLine(image: string, kind: string | undefined, message: string): string {
  return `${image}: ${kind === undefined ? "" : `${kind}: `}${shortenFailure(image, message)}\n`;
}
