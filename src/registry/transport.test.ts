import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { isClassifiedError } from "../failure/index.ts";
import { Transport, type SendOptions } from "./transport.ts";

// Loopback servers that answer what a real registry will not on demand: oversized bodies and
// redirects to another origin.
const servers: Server[] = [];
const transports: Transport[] = [];

afterEach(async () => {
  await Promise.all(transports.splice(0).map((transport) => transport.close()));
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
  return `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
}

function transport(): Transport {
  const made = new Transport({ timeoutMs: 5_000, maxRetries: 0 });
  transports.push(made);
  return made;
}

const options: SendOptions = {
  method: "GET",
  headers: {},
  tls: { caFiles: [], skipVerify: false },
  bodyLimit: 1024,
  errorBodyLimit: 100,
  subject: "app:1 at mirror",
};

async function failureOf(promise: Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isClassifiedError(error)) return { kind: error.kind, message: error.message };
    throw error;
  }
  throw new Error("expected a failure");
}

describe("response bodies are capped", () => {
  it("refuses a declared length over the cap before reading it", async () => {
    const url = await serve((_, response) => {
      response.writeHead(200, { "content-length": 4096 });
      response.end(Buffer.alloc(4096));
    });
    expect(await failureOf(transport().send(url, options))).toEqual({
      kind: "invalid",
      message: "app:1 at mirror: the answer is larger than 1024 bytes",
    });
  });

  it("stops reading an undeclared body at the cap", async () => {
    const url = await serve((_, response) => {
      response.writeHead(200);
      for (let i = 0; i < 64; i += 1) response.write(Buffer.alloc(512));
      response.end();
    });
    expect((await failureOf(transport().send(url, options))).kind).toBe("invalid");
  });

  it("keeps the start of an error body and returns the answer", async () => {
    const url = await serve((_, response) => {
      response.writeHead(404);
      response.end("x".repeat(10_000));
    });
    const answer = await transport().send(url, options);
    expect(answer.status).toBe(404);
    expect(answer.body.length).toBe(100);
  });

  it("accepts a body within the cap", async () => {
    const url = await serve((_, response) => {
      response.writeHead(200);
      response.end(Buffer.alloc(1024, 1));
    });
    expect((await transport().send(url, options)).body).toEqual(Buffer.alloc(1024, 1));
  });
});

describe("redirects", () => {
  it("keep Authorization on the same origin and drop it for another host", async () => {
    const seen: Array<{ where: string; headers: IncomingHttpHeaders }> = [];
    const other = await serve((request, response) => {
      seen.push({ where: "other", headers: request.headers });
      response.end("moved content");
    });
    const origin = await serve((request, response) => {
      seen.push({ where: request.url ?? "", headers: request.headers });
      if (request.url === "/start") response.writeHead(307, { location: "/same" });
      else response.writeHead(302, { location: `${other}/elsewhere` });
      response.end();
    });
    const answer = await transport().send(`${origin}/start`, {
      ...options,
      headers: { authorization: "Bearer registry-token" },
    });
    expect(answer.body.toString()).toBe("moved content");
    expect(seen.map(({ where, headers }) => [where, headers.authorization])).toEqual([
      ["/start", "Bearer registry-token"],
      ["/same", "Bearer registry-token"],
      ["other", undefined],
    ]);
  });
});
