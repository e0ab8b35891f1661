import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./index.ts";

describe("the agent's logger", () => {
  it("removes secrets by field name and by shape inside strings", async () => {
    const sink = new PassThrough();
    const lines: string[] = [];
    sink.on("data", (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter(Boolean)));
    const logger = createLogger({ level: "info", destination: sink });
    logger.info(
      {
        auth: { password: "hunter2-field" },
        registry: { token: "tok-field" },
        url: "https://bob:hunter2-url@r.io/v2/",
      },
      "pull with Authorization: Bearer abc.def.ghi and password=hunter2-query",
    );
    logger.warn(new Error("failed: https://alice:hunter2-error@r.io/v2/ said 401"));
    await new Promise((resolve) => setImmediate(resolve));
    const text = lines.join("\n");
    expect(lines).toHaveLength(2);
    for (const secret of [
      "hunter2-field",
      "tok-field",
      "hunter2-url",
      "abc.def.ghi",
      "hunter2-query",
      "hunter2-error",
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ level: 30, name: "prepull" });
  });
});
