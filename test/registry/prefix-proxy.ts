import { createServer, request as httpRequest } from "node:http";
import type { Socket } from "node:net";
import type { RegistryInstance } from "../sandbox/index.ts";

export interface PrefixProxy {
  /** `http://127.0.0.1:PORT<prefix>`: the registry's API root, as an Artifactory or Harbor mirror serves it. */
  readonly url: string;
  readonly host: string;
  /** Every path asked for, with its query. */
  readonly paths: string[];
  close(): Promise<void>;
}

/**
 * Serves a real plain-HTTP registry's API under a path prefix instead of `/v2`:
 * `<prefix>/<name>/manifests/<ref>` is the registry's `/v2/<name>/manifests/<ref>`. Anything
 * outside the prefix is 404, like a repository manager's other endpoints.
 */
export async function startPrefixProxy(target: RegistryInstance, prefix: string): Promise<PrefixProxy> {
  const upstream = new URL(target.url);
  const paths: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    paths.push(path);
    if (!path.startsWith(`${prefix}/`)) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "NOT_FOUND", message: "outside the repository" }] }));
      return;
    }
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `/v2${path.slice(prefix.length)}`,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const host = `127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  return {
    url: `http://${host}${prefix}`,
    host,
    paths,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
