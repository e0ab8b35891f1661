import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { pipeliningGuard } from "./pipelining.ts";

/** A connection's socket that records how it was closed. */
function fakeSocket() {
  const socket = Object.assign(new EventEmitter(), { destroyed: false, ended: 0 });
  return Object.assign(socket, {
    end() {
      socket.ended += 1;
    },
    destroy() {
      socket.destroyed = true;
      socket.emit("close");
    },
  });
}

function requestOn(socket: ReturnType<typeof fakeSocket>) {
  const request = { socket, resume: () => request } as unknown as IncomingMessage;
  const response = new EventEmitter() as unknown as ServerResponse;
  return { request, response };
}

describe("pipeliningGuard", () => {
  it("answers up to the limit, then ends the connection once those answers are out", () => {
    let refused = 0;
    const admitted = pipeliningGuard(2, () => (refused += 1));
    const socket = fakeSocket();
    const requests = Array.from({ length: 4 }, () => requestOn(socket));
    expect(requests.map(({ request, response }) => admitted(request, response))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect([refused, socket.ended]).toEqual([1, 0]);
    requests[0]?.response.emit("close");
    expect(socket.ended).toBe(0);
    requests[1]?.response.emit("close");
    // A clean end after the last answer it was owed, not a reset.
    expect([socket.ended, socket.destroyed]).toEqual([1, false]);
  });

  it("lets a connection that reads its answers pipeline on, and counts each connection apart", () => {
    const admitted = pipeliningGuard(2, () => undefined);
    const [one, two] = [fakeSocket(), fakeSocket()];
    for (let i = 0; i < 10; i++) {
      const { request, response } = requestOn(one);
      expect(admitted(request, response)).toBe(true);
      response.emit("close");
    }
    const held = [requestOn(two), requestOn(two)];
    for (const { request, response } of held) expect(admitted(request, response)).toBe(true);
    const { request, response } = requestOn(one);
    expect(admitted(request, response)).toBe(true);
  });

  it("cuts off a connection that keeps sending past the limit", () => {
    const admitted = pipeliningGuard(2, () => undefined);
    const socket = fakeSocket();
    for (let i = 0; i < 2 + 16; i++) {
      const { request, response } = requestOn(socket);
      admitted(request, response);
    }
    expect(socket.destroyed).toBe(false);
    const { request, response } = requestOn(socket);
    expect(admitted(request, response)).toBe(false);
    expect(socket.destroyed).toBe(true);
  });
});
