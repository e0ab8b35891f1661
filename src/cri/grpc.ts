import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/**
 * The gRPC plumbing the CRI client and containerd's client share: loading a prebuilt JSON
 * descriptor (proto/*.json, built by scripts/proto-json.ts) and one unary call with a deadline
 * that an AbortSignal cancels. Each client classifies the errors itself.
 */

type Descriptor = Parameters<typeof protoLoader.fromJSON>[0];

/** The package a JSON descriptor defines; `longs` says how 64-bit integers arrive. */
export function loadDescriptor(url: URL, longs: typeof Number | typeof String): grpc.GrpcObject {
  const descriptor = JSON.parse(readFileSync(url, "utf8")) as Descriptor;
  return grpc.loadPackageDefinition(
    protoLoader.fromJSON(descriptor, { longs, defaults: true, oneofs: true }),
  );
}

type UnaryMethod = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => grpc.ClientUnaryCall;

export interface UnaryCall {
  readonly client: grpc.Client;
  readonly method: string;
  readonly request: object;
  readonly metadata: grpc.Metadata;
  readonly deadline: Date;
  readonly signal: AbortSignal | undefined;
}

export interface UnaryAnswer {
  readonly error: grpc.ServiceError | null;
  readonly response: unknown;
}

/**
 * Calls `method` and settles with its answer or its ServiceError; an abort cancels the call in
 * the server too, and ends it with an error (callers tell it by their signal). A signal aborted
 * before the call rejects with its reason and nothing is sent.
 */
export function unaryCall(call: UnaryCall): Promise<UnaryAnswer> {
  const { client, method, signal } = call;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const fn = (client as unknown as Record<string, UnaryMethod | undefined>)[method];
    if (fn === undefined) throw new Error(`gRPC method ${method} is missing from the proto`);
    const onAbort = (): void => {
      pending.cancel();
    };
    const pending = fn.call(
      client,
      call.request,
      call.metadata,
      { deadline: call.deadline },
      (error, response) => {
        signal?.removeEventListener("abort", onAbort);
        resolve({ error, response });
      },
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
