import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { loadDescriptor, unaryCall, type UnaryCall } from "./grpc.ts";

type Callback = (error: grpc.ServiceError | null, response: unknown) => void;

/** A client whose one method answers when told to, and records a cancel. */
function fakeClient() {
  const state = {
    cancelled: false,
    answer: undefined as Callback | undefined,
    deadline: undefined as unknown,
  };
  const client = {
    Echo(_request: object, _metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback) {
      state.deadline = options.deadline;
      state.answer = callback;
      return {
        cancel: () => {
          state.cancelled = true;
          callback(
            Object.assign(new Error("cancelled"), { code: grpc.status.CANCELLED }) as grpc.ServiceError,
            null,
          );
        },
      };
    },
  } as unknown as grpc.Client;
  return { client, state };
}

const call = (client: grpc.Client, signal?: AbortSignal, method = "Echo"): UnaryCall => ({
  client,
  method,
  request: {},
  metadata: new grpc.Metadata(),
  deadline: new Date(Date.now() + 1000),
  signal,
});

describe("loadDescriptor", () => {
  it("loads the services of a prebuilt descriptor", () => {
    const cri = loadDescriptor(new URL("../../proto/cri.json", import.meta.url), Number);
    const v1 = (cri.runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
    expect(typeof v1.ImageService).toBe("function");
  });
});

describe("unaryCall", () => {
  it("settles with the answer, under the deadline it was given", async () => {
    const { client, state } = fakeClient();
    const answer = unaryCall(call(client));
    state.answer?.(null, { ok: true });
    await expect(answer).resolves.toEqual({ error: null, response: { ok: true } });
    expect(state.deadline).toBeInstanceOf(Date);
  });

  it("cancels the call on abort, and sends nothing once the signal has aborted", async () => {
    const { client, state } = fakeClient();
    const controller = new AbortController();
    const answer = unaryCall(call(client, controller.signal));
    controller.abort(new Error("stop"));
    expect(state.cancelled).toBe(true);
    expect((await answer).error?.code).toBe(grpc.status.CANCELLED);

    const fresh = fakeClient();
    await expect(unaryCall(call(fresh.client, controller.signal))).rejects.toThrow("stop");
    expect(fresh.state.answer).toBeUndefined();
  });

  it("fails on a method the proto does not have", async () => {
    await expect(unaryCall(call(fakeClient().client, undefined, "Missing"))).rejects.toThrow(/Missing/);
  });
});
