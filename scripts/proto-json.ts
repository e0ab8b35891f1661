// Builds proto/cri.json and proto/containerd.json, the descriptors the gRPC clients load, from the
// .proto files beside them: parsing protobuf text costs every start tens of milliseconds, reading
// this JSON almost nothing. Run after editing a .proto file (a test fails until you do):
//
//   npx node scripts/proto-json.ts
import { writeFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import prettier from "prettier";
import protobuf from "protobufjs";

const PROTO_DIR = fileURLToPath(new URL("../proto/", import.meta.url));

/** Each descriptor file of proto/, with the .proto files (relative to proto/) it is built from. */
export const DESCRIPTORS: Readonly<Record<string, readonly string[]>> = {
  "cri.json": ["cri.proto"],
  "containerd.json": [
    "containerd/images.proto",
    "containerd/content.proto",
    "containerd/version.proto",
    "containerd/streaming.proto",
    "containerd/transfer.proto",
    "containerd/transfer-types.proto",
  ],
};

/**
 * `files` parsed as proto-loader would parse them: imports resolve against proto/ (its
 * `includeDirs`), google/protobuf/* come bundled with protobufjs, and field names keep their case
 * (`keepCase`, which takes effect when the text is parsed, so it is fixed here for every client).
 */
export function loadProtoRoot(files: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(PROTO_DIR, target));
  return root.loadSync(
    files.map((file) => join(PROTO_DIR, file)),
    { keepCase: true },
  );
}

export function buildDescriptor(files: readonly string[]): protobuf.INamespace {
  return loadProtoRoot(files).toJSON();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [name, files] of Object.entries(DESCRIPTORS)) {
    const path = join(PROTO_DIR, name);
    const text = await prettier.format(JSON.stringify(buildDescriptor(files)), {
      ...(await prettier.resolveConfig(path)),
      filepath: path,
    });
    await writeFile(path, text);
    process.stdout.write(`wrote proto/${name} from ${files.join(", ")}\n`);
  }
}
