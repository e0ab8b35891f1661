import { describe, expect, it } from "vitest";
import { InvalidReferenceError, parseReference } from "./reference.ts";

const TOKEN = "ghp_T0kenOnlySecret4417";

describe("an image reference with a token alone before the registry", () => {
  it.each([
    `${TOKEN}@registry.example.com/app:1`,
    `${TOKEN}@registry.example.com`,
    `${TOKEN}@localhost:5000/app`,
    `${TOKEN}@registry.example.com/App:1`,
    `${TOKEN.toLowerCase()}@registry.example.com/app:1`,
  ])("is refused without the token in the error: %s", (reference) => {
    let error: unknown;
    try {
      parseReference(reference);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidReferenceError);
    const { message, reference: shown } = error as InvalidReferenceError;
    expect(message).toContain('"***@');
    for (const text of [message, shown, JSON.stringify(error)]) {
      expect(text).not.toContain(TOKEN);
      expect(text.toLowerCase()).not.toContain(TOKEN.toLowerCase());
    }
  });
});
