import { Composer, isMap, Lexer, LineCounter, Parser, type CST, type Document } from "yaml";
import { aliasExpansion, LexicalDepth, MANIFEST_LIMITS, tooDeepAt } from "./limits.ts";
import { imagesOf, lineOf, type DocumentProblem, type ImageNode } from "./workloads.ts";

/** Why a parsed document is refused before it is walked: aliases that expand it past the limit. */
function refusal(document: Document, lines: LineCounter): DocumentProblem | undefined {
  const expansion = aliasExpansion(document);
  if (expansion <= MANIFEST_LIMITS.aliasExpansion) return undefined;
  return {
    line: lineOf(document.contents ?? undefined, lines),
    message:
      expansion === Infinity
        ? "an alias refers to the node that holds it: the document never ends once expanded"
        : `aliases expand this document past ${MANIFEST_LIMITS.aliasExpansion.toLocaleString("en-US")} more nodes (a YAML alias bomb?)`,
  };
}

/**
 * Every image of every document in one YAML stream, plus the documents that do not parse.
 * Documents are composed one at a time and dropped once walked, so memory follows the largest
 * document rather than the whole stream. A document nested too deeply or inflated by aliases
 * refuses the whole stream: it is hostile or broken, and nothing in it is worth reporting.
 */
export function walkManifest(source: string): {
  images: ImageNode[];
  problems: DocumentProblem[];
  documents: number;
} {
  const lines = new LineCounter();
  const composer = new Composer();
  const images: ImageNode[] = [];
  const problems: DocumentProblem[] = [];
  let documents = 0;
  const walk = (document: Document.Parsed): DocumentProblem | undefined => {
    documents += 1;
    const error = document.errors[0];
    if (error !== undefined) {
      problems.push({
        line: lines.linePos(error.pos[0]).line,
        message: `not valid YAML: ${error.message.split("\n")[0] ?? ""}`,
      });
      return undefined;
    }
    const refused = refusal(document, lines);
    if (refused !== undefined) return refused;
    const contents = document.contents;
    if (isMap(contents) && !contents.has("kind")) {
      problems.push({
        line: lineOf(contents, lines),
        message: "document has no kind: not a Kubernetes object",
      });
      return undefined;
    }
    images.push(...imagesOf(contents, document, lines, problems));
    return undefined;
  };
  const refuse = (problem: DocumentProblem): ReturnType<typeof walkManifest> => ({
    images: [],
    problems: [problem],
    documents,
  });
  const tooDeep = (offset: number): ReturnType<typeof walkManifest> =>
    refuse({
      line: lines.linePos(offset).line,
      message: `nested deeper than ${MANIFEST_LIMITS.depth} levels: not a Kubernetes object`,
    });
  const accept = (token: CST.Token): ReturnType<typeof walkManifest> | undefined => {
    const deepAt = tooDeepAt(token, MANIFEST_LIMITS.depth);
    if (deepAt !== undefined) return tooDeep(deepAt);
    for (const document of composer.next(token)) {
      const refused = walk(document);
      if (refused !== undefined) return refuse(refused);
    }
    return undefined;
  };
  // Lexed here rather than by Parser.parse, so that linear-text nesting is refused as it is read.
  const parser = new Parser(lines.addNewLine);
  const depth = new LexicalDepth();
  lines.addNewLine(0);
  for (const lexeme of new Lexer().lex(source)) {
    if (depth.next(lexeme) > MANIFEST_LIMITS.depth) return tooDeep(parser.offset);
    for (const token of parser.next(lexeme)) {
      const stop = accept(token);
      if (stop !== undefined) return stop;
    }
  }
  for (const token of parser.end()) {
    const stop = accept(token);
    if (stop !== undefined) return stop;
  }
  for (const document of composer.end()) {
    const refused = walk(document);
    if (refused !== undefined) return refuse(refused);
  }
  return { images, problems, documents };
}
