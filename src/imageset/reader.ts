import { ImageSetError, type DesiredState, type ImageSetDocument } from "./imageset.ts";
import { DEFAULT_LIMITS, type ImageSetLimits } from "./limits.ts";
import { listImageSetFiles } from "./files.ts";
import { mergeImageSets } from "./merge.ts";
import { parseImageSet } from "./parse.ts";
import { readBoundedFile } from "./bounded-file.ts";

/** Parses one file's text. The reader owns this port: the agent parses off its main thread. */
export type ImageSetParser = (
  text: string,
  file: string,
) => readonly ImageSetDocument[] | Promise<readonly ImageSetDocument[]>;

export interface ImageSetReadResult {
  readonly state: DesiredState;
  /** False when no file changed since the last read: the same state, nothing read or parsed. */
  readonly changed: boolean;
}

export interface ImageSetReader {
  read(paths: readonly string[]): Promise<ImageSetReadResult>;
}

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

interface Cached<T> {
  readonly version: string;
  readonly outcome: Outcome<T>;
}

async function settle<T>(work: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error };
  }
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw outcome.error;
}

/**
 * Reads ImageSets again and again at the cost of a few stats when nothing changed: each file is
 * read and parsed only when its version (see `listImageSetFiles`) moves, and the merge runs only
 * when some file did. Outcomes are cached, errors included, so an unchanged bad file is not
 * parsed on every poll either. The cache holds the files of the last read only.
 */
export function createImageSetReader(
  options: { parse?: ImageSetParser; limits?: ImageSetLimits } = {},
): ImageSetReader {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const parse = options.parse ?? ((text: string, file: string) => parseImageSet(text, file, limits));
  let files = new Map<string, Cached<readonly ImageSetDocument[]>>();
  let last: Cached<DesiredState> | undefined;

  return {
    async read(paths) {
      const listed = await listImageSetFiles(paths, limits);
      if (listed.length === 0) {
        throw new ImageSetError(paths.join(", "), "no ImageSet files (*.yaml, *.yml, *.json) found");
      }
      const version = [...paths, ...listed.map((f) => `${f.file}\0${f.version}`)].join("\n");
      if (last?.version === version) return { state: unwrap(last.outcome), changed: false };

      const next = new Map<string, Cached<readonly ImageSetDocument[]>>();
      for (const { file, version: fileVersion } of listed) {
        const cached = files.get(file);
        next.set(
          file,
          cached?.version === fileVersion
            ? cached
            : {
                version: fileVersion,
                outcome: await settle(async () =>
                  parse((await readBoundedFile(file, limits.fileBytes)).text, file),
                ),
              },
        );
      }
      files = next;
      const outcome = await settle(() => {
        const documents: ImageSetDocument[] = [];
        const emptyFiles: string[] = [];
        for (const [file, cached] of next) {
          const parsed = unwrap(cached.outcome);
          if (parsed.length === 0) emptyFiles.push(file);
          documents.push(...parsed);
        }
        return mergeImageSets(documents, emptyFiles);
      });
      last = { version, outcome };
      return { state: unwrap(outcome), changed: true };
    },
  };
}

/** Reads and merges the sets at `paths` (files and directories) once, parsing on this thread by default. */
export async function loadDesiredState(
  paths: readonly string[],
  options: { parse?: ImageSetParser } = {},
): Promise<DesiredState> {
  return (await createImageSetReader(options).read(paths)).state;
}
