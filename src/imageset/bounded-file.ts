import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { ImageSetError } from "./imageset.ts";
import { DEFAULT_LIMITS, formatBytes } from "./limits.ts";
import { errorMessage } from "../failure/index.ts";

/** A file system error in words, e.g. for ELOOP, which Node words as its syscall. */
export function fileProblem(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return "no such file or directory";
    case "ELOOP":
      return "symbolic link loop (too many levels of symbolic links)";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "a path component is not a directory";
    default:
      return errorMessage(error);
  }
}

/** Content of one ImageSet file and the identity of what was read. */
export interface FileContent {
  readonly text: string;
  readonly bytes: number;
}

/**
 * Reads a regular file of at most `maxBytes`. It opens without blocking and checks the opened
 * file, so a FIFO, a device such as /dev/zero or a file swapped in after a listing is refused
 * rather than waited on, and it never reads past the limit, even if the file grows meanwhile.
 */
export async function readBoundedFile(
  file: string,
  maxBytes: number = DEFAULT_LIMITS.fileBytes,
): Promise<FileContent> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new ImageSetError(file, fileProblem(error));
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new ImageSetError(file, "is a directory, not an ImageSet file");
    if (!info.isFile()) throw new ImageSetError(file, "not a regular file (a device, FIFO or socket)");
    if (info.size > maxBytes) throw tooLarge(file, info.size, maxBytes);
    const buffer = Buffer.allocUnsafe(Math.min(info.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) {
        // Grew since the stat: a limit's worth more is enough to say whether it is too large.
        if (length > maxBytes) throw tooLarge(file, length, maxBytes);
        throw new ImageSetError(file, "changed while being read");
      }
    }
    return { text: buffer.toString("utf8", 0, length), bytes: length };
  } catch (error) {
    if (error instanceof ImageSetError) throw error;
    throw new ImageSetError(file, fileProblem(error));
  } finally {
    await handle.close();
  }
}

function tooLarge(file: string, size: number, maxBytes: number): ImageSetError {
  return new ImageSetError(
    file,
    `${size} bytes is over the ${formatBytes(maxBytes)} limit for an ImageSet file; split the set into several files`,
  );
}
