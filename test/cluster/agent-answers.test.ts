import { createServer, type Server, type ServerResponse } from "node:http";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/index.ts";

// Things that answer on an agent's address but are not (working) agents: fakes, because no real
// agent sends these. `prepull wait` must name what is wrong without holding more than its limit.
const answers: Record<string, (response: ServerResponse) => void> = {
  huge: (response) => {
    response.writeHead(200, { "content-type": "application/json" });
    const chunk = Buffer.alloc(1024 * 1024, " ");
    let sent = 0;
    const more = (): void => {
      while (sent < 64 && !response.destroyed) {
        sent += 1;
        if (!response.write(chunk)) {
          response.once("drain", more);
          return;
        }
      }
      response.end();
    };
    response.write("[");
    more();
  },
  html: (response) => {
    response.writeHead(200, { "content-type": "text/html" });
    response.end("<html>hello</html>");
  },
  shape: (response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ node: "n", status: "ok" }));
  },
};
const servers = new Map<string, Server>();

beforeAll(async () => {
  for (const [name, answer] of Object.entries(answers)) {
    const server = createServer((_request, response) => {
      answer(response);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.set(name, server);
  }
});

afterAll(async () => {
  for (const server of servers.values()) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function reasonFor(name: string): Promise<string> {
  const address = servers.get(name)?.address();
  if (typeof address !== "object" || address === null) throw new Error("not listening");
  const stdout = new PassThrough();
  const out: string[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk.toString()));
  const code = await main(
    ["wait", "--agents", `127.0.0.1:${String(address.port)}`, "-t", "0s", "-o", "json"],
    {
      stdout,
      stderr: new PassThrough(),
      stdin: new PassThrough(),
      env: {},
    },
  );
  expect(code).toBe(1);
  const result = JSON.parse(out.join("")) as { nodes: Array<{ state: string; reason: string }> };
  expect(result.nodes[0]?.state).toBe("unreachable");
  return result.nodes[0]?.reason ?? "";
}

describe("prepull wait against things that are not prepull agents", () => {
  it("stops reading a status larger than its limit", async () => {
    expect(await reasonFor("huge")).toBe("status larger than 32 MiB");
  });

  it("names an answer that is not JSON, or not the status document", async () => {
    expect(await reasonFor("html")).toMatch(/^not a prepull agent status: .*JSON/);
    expect(await reasonFor("shape")).toMatch(/^not a prepull agent status: version /);
  });
});
