import { describe, expect, it } from "vitest";
import { FAILURE_KINDS } from "../failure/index.ts";
import { DEFAULT_BACKOFF } from "./backoff.ts";

describe("DEFAULT_BACKOFF", () => {
  it("retries what the runtime cannot do at all more slowly than any other failure", () => {
    const { unsupported } = DEFAULT_BACKOFF;
    for (const kind of FAILURE_KINDS.filter((k) => k !== "unsupported")) {
      expect(unsupported.initialMs).toBeGreaterThan(DEFAULT_BACKOFF[kind].initialMs);
      expect(unsupported.maxMs).toBeGreaterThan(DEFAULT_BACKOFF[kind].maxMs);
    }
  });
});
