import { createHash } from "node:crypto";
import { createServer, type RequestListener, type Server } from "node:http";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { isClassifiedError } from "../failure/index.ts";
import { parseReference } from "../reference/index.ts";
import { createRegistryClient, type RegistryClient } from "./client.ts";

// Loopback servers that misbehave as a real registry will not on demand: bodies longer or shorter
// than the descriptor says.
const servers: Server[] = [];
const clients: RegistryClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    ),
  );
});

async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return `127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
}

function client(): RegistryClient {
  const made = createRegistryClient({ maxRetries: 0, requestTimeoutMs: 5_000 });
  clients.push(made);
  return made;
}

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** A sink that keeps count of what reached it. */
function counter(): { sink: Writable; received: () => number } {
  let received = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      done();
    },
  });
  return { sink, received: () => received };
}

async function failureOf(promise: Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isClassifiedError(error)) return { kind: error.kind, message: error.message };
    throw error;
  }
  throw new Error("expected a failure");
}

describe("fetchBlob", () => {
  const content = Buffer.alloc(64 * 1024, 1);
  const blob = { digest: digestOf(content), size: content.length };

  it("streams a blob into the sink and verifies it", async () => {
    const host = await serve((_, response) => {
      response.writeHead(200, { "content-length": content.length });
      response.end(content);
    });
    const { sink, received } = counter();
    let reported = 0;
    await client().fetchBlob(parseReference(`${host}/app:1`), blob, sink, {
      onBytes: (bytes) => (reported += bytes),
    });
    expect(received()).toBe(content.length);
    expect(reported).toBe(content.length);
  });

  it("stops a body without a length at the descriptor's size", async () => {
    const host = await serve((_, response) => {
      response.writeHead(200);
      // Chunked, and endless as far as the client can tell.
      const more = (): void => {
        if (response.write(Buffer.alloc(16 * 1024, 2))) setImmediate(more);
        else response.once("drain", more);
      };
      more();
    });
    const { sink, received } = counter();
    const failure = await failureOf(client().fetchBlob(parseReference(`${host}/app:1`), blob, sink));
    expect(failure.kind).toBe("invalid");
    expect(failure.message).toContain(`more than the ${content.length} bytes its descriptor says`);
    expect(received()).toBeLessThanOrEqual(content.length);
  });

  it("refuses a declared length over the size before reading, and a short or other body at the end", async () => {
    const bodies = [
      Buffer.alloc(content.length + 1, 1),
      content.subarray(1),
      Buffer.alloc(content.length, 3),
    ];
    const host = await serve((request, response) => {
      const body = bodies[Number(/\/app(\d)\//.exec(request.url ?? "")?.[1] ?? 0)] ?? content;
      response.writeHead(200, { "content-length": body.length });
      response.end(body);
    });
    const fetchFrom = (n: number) =>
      failureOf(client().fetchBlob(parseReference(`${host}/app${n}:1`), blob, counter().sink));
    expect((await fetchFrom(0)).message).toContain(`the answer is larger than ${content.length} bytes`);
    expect((await fetchFrom(1)).message).toContain(`${content.length - 1} bytes, not the ${content.length}`);
    expect((await fetchFrom(2)).message).toContain(`not the requested ${blob.digest}`);
  });

  it("classifies a missing blob and names it", async () => {
    const host = await serve((_, response) => {
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown" }] }));
    });
    const failure = await failureOf(
      client().fetchBlob(parseReference(`${host}/app:1`), blob, counter().sink),
    );
    expect(failure).toEqual({
      kind: "not_found",
      message: `${host}/app@${blob.digest} at http://${host}: not found (BLOB_UNKNOWN: blob unknown)`,
    });
  });
});

describe("fetchManifest", () => {
  it("returns the bytes as served, verified against the digest and the size", async () => {
    const document = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: `sha256:${"c".repeat(64)}`,
          size: 2,
        },
        layers: [],
      }),
    );
    const digest = digestOf(document);
    const host = await serve((request, response) => {
      response.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
      response.end(request.url?.includes("/other/") ? Buffer.concat([document, Buffer.from(" ")]) : document);
    });
    const fetched = await client().fetchManifest(parseReference(`${host}/app:1`), {
      digest,
      size: document.length,
    });
    expect(fetched.bytes).toEqual(document);
    expect(fetched.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    const wrong = await failureOf(client().fetchManifest(parseReference(`${host}/other:1`), { digest }));
    expect(wrong).toMatchObject({
      kind: "invalid",
      message: expect.stringContaining(`not the requested ${digest}`) as string,
    });
  });
});
