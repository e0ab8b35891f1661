import { describe, expect, it } from "vitest";
import { Later } from "./later.ts";

describe("Later", () => {
  it("hands out the value once it is set", () => {
    const later = new Later<number>("the answer");
    later.set(42);
    expect(later.get()).toBe(42);
  });

  it("refuses a read before the value is set, and a second set, naming it", () => {
    const later = new Later<number>("the answer");
    expect(() => later.get()).toThrow("the answer is read before it is set");
    later.set(1);
    expect(() => {
      later.set(2);
    }).toThrow("the answer is already set");
  });
});
