import type * as grpc from "@grpc/grpc-js";
import type { AnyCodec, WireAny } from "./any.ts";

/** containerd's own chunk size for byte streams (core/transfer/streaming). */
const MAX_CHUNK = 32 * 1024;
const DATA = "containerd.types.transfer.Data";
const WINDOW_UPDATE = "containerd.types.transfer.WindowUpdate";

/** The receiving side ended or failed the stream; its own answer says why. */
export class StreamClosedError extends Error {}

/**
 * `Data { bytes data = 1; }` packed by hand: the chunk is copied once into the message, where
 * encoding it through protobufjs (and `Buffer.from` over its result) copied it twice and looked
 * the type up for every 32 KiB — a gigabyte is 32,768 messages.
 */
export function dataMessage(chunk: Uint8Array): WireAny {
  let length = chunk.length;
  let header = 2;
  for (let rest = length >>> 7; rest > 0; rest >>>= 7) header += 1;
  const value = Buffer.allocUnsafe(header + chunk.length);
  value[0] = 0x0a; // field 1, length-delimited
  let at = 1;
  while (length > 0x7f) {
    value[at++] = (length & 0x7f) | 0x80;
    length >>>= 7;
  }
  value[at] = length;
  value.set(chunk, header);
  return { type_url: DATA, value };
}

/**
 * The credit a `WindowUpdate { int32 update = 1; }` grants, read by hand (one arrives for about
 * every Data message); `undefined` when the message is not one this reader knows field by field.
 */
export function windowCredit(any: WireAny): number | undefined {
  if (any.type_url.slice(any.type_url.lastIndexOf("/") + 1) !== WINDOW_UPDATE) return undefined;
  const bytes = any.value;
  let credit = 0;
  let at = 0;
  while (at < bytes.length) {
    if (bytes[at] !== 0x08) return undefined; // field 1, varint: the only field
    at += 1;
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at];
      if (byte === undefined || shift > 28) return undefined;
      at += 1;
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    credit = value; // int32: a later occurrence wins, as protobuf decoding does
  }
  return credit;
}

/**
 * Sends `source` over a containerd byte stream the way containerd's own writer does: `Data`
 * messages of at most 32 KiB, never more than the receiver's window allows (it grants more with
 * `WindowUpdate` as it reads), then a half-close that the receiver reads as the end.
 * Rejects when the stream fails or ends before the source does.
 */
export async function sendByteStream(
  call: grpc.ClientDuplexStream<WireAny, WireAny>,
  source: AsyncIterable<Uint8Array>,
  codec: AnyCodec,
  onSent?: (bytes: number) => void,
): Promise<void> {
  let credit = 0;
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const onData = (any: WireAny): void => {
    const granted = windowCredit(any);
    if (granted !== undefined) credit += granted;
    else {
      const { typeName, message } = codec.decode(any);
      if (typeName === WINDOW_UPDATE) credit += Number(message.update);
    }
    wake?.();
  };
  const onEnd = (error?: Error): void => {
    failure ??= new StreamClosedError(
      error?.message ?? "containerd closed the import stream before the archive was sent",
      { cause: error },
    );
    wake?.();
  };
  const onClose = (): void => {
    onEnd();
  };
  call.on("data", onData);
  call.on("error", onEnd);
  call.on("end", onClose);
  const waitForCredit = async (): Promise<void> => {
    while (credit <= 0 && failure === undefined) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (failure !== undefined) throw failure;
  };
  try {
    for await (const chunk of source) {
      for (let offset = 0; offset < chunk.length;) {
        await waitForCredit();
        const size = Math.min(credit, MAX_CHUNK, chunk.length - offset);
        const room = call.write(dataMessage(chunk.subarray(offset, offset + size)));
        credit -= size;
        offset += size;
        onSent?.(size);
        if (!room) {
          await new Promise<void>((resolve) => {
            call.once("drain", resolve);
            wake = resolve;
          });
          wake = undefined;
        }
        if (failure !== undefined) throw failure;
      }
    }
    call.end();
  } finally {
    call.off("data", onData);
    call.off("error", onEnd);
    call.off("end", onClose);
  }
}
