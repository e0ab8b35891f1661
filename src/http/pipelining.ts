import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** How long a connection closed for pipelining is still read (and what it sends dropped). */
const LINGER_MS = 2_000;
/** Requests past the limit a closing connection may still send before it is cut off. */
const IGNORED_PER_LIMIT = 8;

interface Connection {
  /** Requests let through whose answers are not written out yet. */
  accepted: number;
  /** Requests past the limit, not answered. */
  ignored: number;
  closing: boolean;
}

/**
 * Ends a connection cleanly: a FIN after everything written so far, then whatever the client
 * still sends is read and dropped until it hangs up or `LINGER_MS` pass. Closing with unread
 * bytes would send a reset, which discards answers the client has not read yet.
 */
function lingeringClose(socket: Socket): void {
  socket.end();
  const timer = setTimeout(() => {
    socket.destroy();
  }, LINGER_MS);
  timer.unref();
  socket.once("close", () => {
    clearTimeout(timer);
  });
}

/**
 * Bounds pipelining: a connection may have `limit` requests waiting for their answers. The request
 * past them and every later one on that connection go unanswered; the connection gets the answers
 * it was owed and then a clean end, so that a client that sent too many in one go loses nothing
 * it was answered. A client that keeps sending past `limit × 8` more requests is cut off at once.
 * Returns whether a request is to be answered.
 */
export function pipeliningGuard(
  limit: number,
  onRefused: () => void,
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const connections = new WeakMap<Socket, Connection>();
  return (request, response) => {
    const { socket } = request;
    let connection = connections.get(socket);
    if (connection === undefined) {
      connection = { accepted: 0, ignored: 0, closing: false };
      connections.set(socket, connection);
    }
    const state = connection;
    if (!state.closing && state.accepted >= limit) {
      state.closing = true;
      onRefused();
      if (state.accepted === 0) lingeringClose(socket);
    }
    if (state.closing) {
      state.ignored += 1;
      if (state.ignored > limit * IGNORED_PER_LIMIT) socket.destroy();
      // Whatever body it has is read and dropped.
      request.resume();
      return false;
    }
    state.accepted += 1;
    response.once("close", () => {
      state.accepted -= 1;
      if (state.closing && state.accepted === 0 && !socket.destroyed) lingeringClose(socket);
    });
    return true;
  };
}
