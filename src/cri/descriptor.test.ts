import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { buildDescriptor, DESCRIPTORS, loadProtoRoot } from "../../scripts/proto-json.ts";

// The gRPC clients (CRI here, containerd's own API in src/containerd) load proto/*.json, built
// from the .proto files by scripts/proto-json.ts. These fail when the two part ways.

const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url));
const OPTIONS = { keepCase: true, longs: String, defaults: true, oneofs: true };

async function descriptorFile(name: string): Promise<Parameters<typeof protoLoader.fromJSON>[0]> {
  return JSON.parse(await readFile(join(PROTO_DIR, name), "utf8")) as Parameters<
    typeof protoLoader.fromJSON
  >[0];
}

/** What a client sees of a package definition: each service method and its message shapes. */
function methodsOf(definition: protoLoader.PackageDefinition): Record<string, unknown> {
  const methods: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(definition)) {
    if ("format" in entry) continue;
    for (const [method, m] of Object.entries(entry)) {
      methods[`${name}.${method}`] = {
        path: m.path,
        streams: [m.requestStream, m.responseStream],
        request: m.requestType.type,
        response: m.responseType.type,
      };
    }
  }
  return methods;
}

describe.each(Object.entries(DESCRIPTORS))("proto/%s", (name, files) => {
  it("is what scripts/proto-json.ts builds from the .proto files now (run it after editing one)", async () => {
    expect(await descriptorFile(name)).toEqual(buildDescriptor(files));
  });

  it("gives the clients the services and messages proto-loader makes of the .proto files", async () => {
    const fromText = protoLoader.loadSync([...files], { ...OPTIONS, includeDirs: [PROTO_DIR] });
    const fromJson = protoLoader.fromJSON(await descriptorFile(name), OPTIONS);
    const methods = methodsOf(fromJson);
    expect(Object.keys(methods).length).toBeGreaterThan(0);
    expect(methods).toEqual(methodsOf(fromText));
  });
});

it("builds every .proto file of proto/ into a descriptor", async () => {
  const onDisk = (await readdir(PROTO_DIR, { recursive: true })).filter((file) => file.endsWith(".proto"));
  const built = new Set(
    Object.values(DESCRIPTORS).flatMap((files) =>
      loadProtoRoot(files).files.map((file) => relative(PROTO_DIR, file)),
    ),
  );
  expect(onDisk.length).toBeGreaterThan(0);
  for (const file of onDisk) expect(built, file).toContain(file);
});
