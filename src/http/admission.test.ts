import { EventEmitter } from "node:events";
import type { Server, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { evictOldest } from "./admission.ts";

/** Enough of a socket for the admission policies: it closes when destroyed. */
function fakeSocket(): Socket & { destroyed: boolean } {
  const socket = new EventEmitter() as EventEmitter & { destroyed: boolean; destroy(): void };
  socket.destroyed = false;
  socket.destroy = () => {
    if (socket.destroyed) return;
    socket.destroyed = true;
    queueMicrotask(() => socket.emit("close"));
  };
  return socket as unknown as Socket & { destroyed: boolean };
}

describe("evictOldest", () => {
  it("lets every newcomer in, closing the oldest connection once all are taken", async () => {
    const server = new EventEmitter() as unknown as Server;
    let evicted = 0;
    const connections = evictOldest(server, 3, () => (evicted += 1));
    const sockets = Array.from({ length: 5 }, fakeSocket);
    for (const socket of sockets.slice(0, 3)) server.emit("connection", socket);
    expect([connections.open(), evicted]).toEqual([3, 0]);
    server.emit("connection", sockets[3]);
    server.emit("connection", sockets[4]);
    expect(sockets.map((socket) => socket.destroyed)).toEqual([true, true, false, false, false]);
    expect([connections.open(), evicted]).toEqual([3, 2]);
    // A connection that leaves on its own makes room: the next newcomer closes no one.
    sockets[2]?.destroy();
    await Promise.resolve();
    expect(connections.open()).toBe(2);
    const next = fakeSocket();
    server.emit("connection", next);
    expect([connections.open(), evicted, next.destroyed]).toEqual([3, 2, false]);
  });
});
