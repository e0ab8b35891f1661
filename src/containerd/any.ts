import { readFileSync } from "node:fs";
import type protobuf from "protobufjs";

/** proto/containerd/*.proto as a descriptor, built by scripts/proto-json.ts: no text to parse. */
export const DESCRIPTOR = new URL("../../proto/containerd.json", import.meta.url);

/** `google.protobuf.Any` as grpc-js carries it. */
export interface WireAny {
  readonly type_url: string;
  readonly value: Buffer;
}

export type AnyCodec = Awaited<ReturnType<typeof loadAnyCodec>>;

let codec: Promise<{ encode: Encode; decode: Decode }> | undefined;
type Encode = (typeName: string, message: object) => WireAny;
type Decode = (any: WireAny) => { typeName: string; message: Record<string, unknown> };

/**
 * Packs and unpacks the messages containerd's transfer and streaming services carry inside
 * `Any`. The type URL is the message's full name, as containerd's typeurl writes it; a prefix
 * (`type.googleapis.com/…`) is accepted on the way in. protobufjs loads on first use: only an
 * import needs it.
 */
export function loadAnyCodec(): Promise<{ encode: Encode; decode: Decode }> {
  codec ??= import("protobufjs").then(({ default: pb }) => {
    const root = pb.Root.fromJSON(JSON.parse(readFileSync(DESCRIPTOR, "utf8")) as protobuf.INamespace);
    const encode: Encode = (typeName, message) => {
      const type = root.lookupType(typeName);
      return { type_url: typeName, value: Buffer.from(type.encode(type.fromObject(message)).finish()) };
    };
    const decode: Decode = (any) => {
      const typeName = any.type_url.slice(any.type_url.lastIndexOf("/") + 1);
      const type = root.lookupType(typeName);
      return { typeName, message: type.toObject(type.decode(any.value), { defaults: true }) };
    };
    return { encode, decode };
  });
  return codec;
}
