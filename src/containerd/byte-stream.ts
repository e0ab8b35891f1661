import type * as grpc from "@grpc/grpc-js";
import type { AnyCodec, WireAny } from "./any.ts";

/** containerd's own chunk size for byte streams (core/transfer/streaming). */
const MAX_CHUNK = 32 * 1024;
const DATA = "containerd.types.transfer.Data";
const WINDOW_UPDATE = "containerd.types.transfer.WindowUpdate";

/** The receiving side ended or failed the stream; its own answer says why. */
export class StreamClosedError extends Error {}

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
    const { typeName, message } = codec.decode(any);
    if (typeName === WINDOW_UPDATE) credit += Number(message.update);
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
        const room = call.write(codec.encode(DATA, { data: chunk.subarray(offset, offset + size) }));
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
