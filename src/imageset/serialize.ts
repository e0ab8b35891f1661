import { stringify } from "yaml";

/** An ImageSet file for `entries`, e.g. what `prepull plan --output imageset` prints. */
export function serializeImageSet(
  name: string,
  entries: ReadonlyArray<{ image: string; digest?: string | undefined }>,
  comment?: string,
): string {
  const body = stringify({
    apiVersion: "prepull/v1",
    kind: "ImageSet",
    metadata: { name },
    spec: {
      images: entries.map((entry) =>
        entry.digest === undefined ? entry.image : { image: entry.image, digest: entry.digest },
      ),
    },
  });
  const header =
    comment === undefined
      ? ""
      : comment
          .split("\n")
          .map((line) => `# ${line}`.trimEnd())
          .join("\n") + "\n";
  return header + body;
}
