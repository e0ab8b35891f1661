import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { ArchiveImportOptions } from "../bundle/ports.ts";
import { unaryCall } from "../cri/index.ts";
import { loadAnyCodec, type WireAny } from "./any.ts";
import { sendByteStream, StreamClosedError } from "./byte-stream.ts";

export interface TransferClients {
  readonly streaming: grpc.Client;
  readonly transfer: grpc.Client;
  metadata(): grpc.Metadata;
}

type StreamMethod = (
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
) => grpc.ClientDuplexStream<WireAny, WireAny>;

/**
 * Imports a tar stream of an OCI image layout through containerd's transfer service, as
 * `ctr images import` does on containerd 2.x: a byte stream is opened and named on the
 * streaming service, and a Transfer request from an `ImageImportStream` of that name into an
 * `ImageStore` makes containerd read it, store every blob (checking each against its digest as
 * it commits), walk the platform's manifests and unpack them. Settles when the image is stored.
 * The first error wins: a failing source cancels the import; a failing import stops the source.
 */
export async function importArchive(
  clients: TransferClients,
  archive: AsyncIterable<Uint8Array>,
  options: ArchiveImportOptions,
): Promise<grpc.ServiceError | null> {
  const codec = await loadAnyCodec();
  const deadline = new Date(Date.now() + options.timeoutMs);
  const id = `prepull-import-${randomUUID()}`;
  const open = (clients.streaming as unknown as Record<string, StreamMethod>).Stream;
  if (open === undefined) throw new Error("gRPC method Stream is missing from the proto");
  const stream = open.call(clients.streaming, clients.metadata(), { deadline });
  // Errors reach the sender and the acknowledgement through their own listeners; a cancelled
  // stream still emits one after they are gone, which must not crash the process.
  stream.on("error", () => undefined);
  const cancelStream = (): void => {
    stream.cancel();
  };
  options.signal?.addEventListener("abort", cancelStream, { once: true });
  try {
    stream.write(codec.encode("containerd.services.streaming.v1.StreamInit", { id }));
    await acknowledged(stream);
    const platform = {
      os: options.platform.os,
      architecture: options.platform.architecture,
      variant: options.platform.variant ?? "",
    };
    const transfer = unaryCall({
      client: clients.transfer,
      method: "Transfer",
      request: {
        source: codec.encode("containerd.types.transfer.ImageImportStream", { stream: id, media_type: "" }),
        destination: codec.encode("containerd.types.transfer.ImageStore", {
          name: options.name,
          labels: options.labels ?? {},
          platforms: [platform],
          unpacks: [{ platform, snapshotter: "" }],
        }),
        options: {},
      },
      metadata: clients.metadata(),
      deadline,
      signal: options.signal,
    }).then((answer) => {
      // An import that failed reads no more: stop sending.
      if (answer.error !== null) stream.cancel();
      return answer;
    });
    try {
      await sendByteStream(stream, archive, codec, options.onSent);
    } catch (error) {
      stream.cancel();
      const answer = await transfer.catch(() => undefined);
      // containerd stopped reading: its answer says why. Otherwise the archive failed (a refused blob).
      if (error instanceof StreamClosedError && answer?.error != null && !isCancel(answer.error)) {
        return answer.error;
      }
      throw error;
    }
    const answer = await transfer;
    return answer.error;
  } finally {
    options.signal?.removeEventListener("abort", cancelStream);
  }
}

function isCancel(error: grpc.ServiceError): boolean {
  return error.code === grpc.status.CANCELLED;
}

/** containerd answers a stream's first message once the stream is registered under its name. */
function acknowledged(stream: grpc.ClientDuplexStream<WireAny, WireAny>): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      stream.off("data", onData);
      stream.off("error", onError);
    };
    stream.once("data", onData);
    stream.once("error", onError);
  });
}
