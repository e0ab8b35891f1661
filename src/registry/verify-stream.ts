import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { ClassifiedError } from "../failure/index.ts";

/**
 * Passes a blob's bytes through while hashing and counting them: one byte more than `size`
 * fails at once (a hostile or broken server cannot fill a disk), and at the end a short body or
 * another digest fails before the next stream is ended. sha256 only.
 */
export function verifyingStream(
  blob: { readonly digest: string; readonly size: number },
  subject: string,
  onBytes?: (bytes: number) => void,
): Transform {
  const hash = createHash("sha256");
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > blob.size) {
        done(
          new ClassifiedError("invalid", `${subject}: more than the ${blob.size} bytes its descriptor says`),
        );
        return;
      }
      hash.update(chunk);
      onBytes?.(chunk.length);
      done(null, chunk);
    },
    flush(done) {
      if (seen !== blob.size) {
        done(
          new ClassifiedError(
            "invalid",
            `${subject}: ${seen} bytes, not the ${blob.size} its descriptor says`,
          ),
        );
        return;
      }
      const actual = `sha256:${hash.digest("hex")}`;
      if (actual !== blob.digest) {
        done(
          new ClassifiedError(
            "invalid",
            `${subject}: content is ${actual}, not the requested ${blob.digest}`,
          ),
        );
        return;
      }
      done();
    },
  });
}
