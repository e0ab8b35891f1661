import type { Server } from "node:net";
import type { Socket } from "node:net";

export interface ConnectionLimits {
  /** Open connections at once, all clients together. */
  readonly total: number;
  /** Open connections at once from one client address. */
  readonly perClient: number;
}

export type RefusalReason = "per_client" | "capacity";

/** `::ffff:10.0.0.7` and `10.0.0.7` are one client. */
function clientOf(socket: Socket): string {
  const address = socket.remoteAddress ?? "unknown";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/**
 * Shares the server's connections fairly between client addresses, so that one client (or a few)
 * holding connections open cannot lock out another — kubelet's probes above all. A client gets at
 * most `perClient` connections; when all `total` are taken, a newcomer is let in by closing the
 * oldest connection of the client that holds the most, as long as that client holds at least two
 * more than the newcomer. Node's own `maxConnections` would instead refuse whoever comes last.
 */
export function shareConnections(
  server: Server,
  limits: ConnectionLimits,
  onRefused: (reason: RefusalReason) => void,
): { open(): number } {
  const clients = new Map<string, Set<Socket>>();
  let open = 0;

  const largest = (): Set<Socket> | undefined => {
    let found: Set<Socket> | undefined;
    for (const sockets of clients.values()) if (sockets.size > (found?.size ?? 0)) found = sockets;
    return found;
  };

  server.on("connection", (socket: Socket) => {
    const client = clientOf(socket);
    const own = clients.get(client) ?? new Set<Socket>();
    if (own.size >= limits.perClient) {
      onRefused("per_client");
      socket.destroy();
      return;
    }
    if (open >= limits.total) {
      const hog = largest();
      const oldest = hog?.values().next().value;
      if (hog === undefined || oldest === undefined || hog.size < own.size + 2) {
        onRefused("capacity");
        socket.destroy();
        return;
      }
      onRefused("capacity");
      oldest.destroy();
      // Counted down by its close handler, which runs later: count it out now.
      hog.delete(oldest);
      open -= 1;
    }
    own.add(socket);
    clients.set(client, own);
    open += 1;
    socket.once("close", () => {
      if (!own.delete(socket)) return;
      open -= 1;
      if (own.size === 0 && clients.get(client) === own) clients.delete(client);
    });
  });
  return { open: () => open };
}

/**
 * Keeps at most `total` connections open, never by turning a newcomer away: when all are taken, the
 * oldest is closed to let the newcomer in. Made for a port that answers at once and hangs up
 * (probes): the connections that have been open longest are the slow or idle ones, and a probe,
 * open for the moment its answer takes, is lost only if `total` others arrive within that moment.
 */
export function evictOldest(server: Server, total: number, onEvicted: () => void): { open(): number } {
  // A Set iterates in insertion order: its first socket is the oldest.
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    if (sockets.size >= total) {
      const oldest = sockets.values().next().value;
      if (oldest !== undefined) {
        onEvicted();
        sockets.delete(oldest);
        oldest.destroy();
      }
    }
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
    });
  });
  return { open: () => sockets.size };
}
