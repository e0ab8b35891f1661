import { describe, expect, it } from "vitest";
import { errorMessage } from "./message.ts";

describe("errorMessage", () => {
  it("gives an Error's message and anything else as text", () => {
    expect(errorMessage(new TypeError("bad input"))).toBe("bad input");
    expect(errorMessage("plain")).toBe("plain");
    expect(errorMessage(42)).toBe("42");
    expect(errorMessage(undefined)).toBe("undefined");
  });
});
