import { describe, expect, it } from "vitest";
import { InvalidReferenceError, parseReference } from "./reference.ts";
import { redactUserinfo } from "./userinfo.ts";

const TOKEN = "ghp_T0kenOnlySecret4417";

describe("redactUserinfo", () => {
  it.each([
    ["puller:Secret@registry.example.com/app:1", "***@registry.example.com/app:1"],
    ["https://puller:Secret@registry.example.com/app:1", "https://***@registry.example.com/app:1"],
    ["puller:Secret@registry.example.com", "***@registry.example.com"],
    ["puller:S@cret@127.0.0.1:5000/app", "***@127.0.0.1:5000/app"],
    [`${TOKEN}@registry.example.com/app:1`, "***@registry.example.com/app:1"],
    [`${TOKEN}@registry.example.com`, "***@registry.example.com"],
    [`${TOKEN}@localhost/app`, "***@localhost/app"],
    [`${TOKEN}@localhost:5000/app:1`, "***@localhost:5000/app:1"],
    [`${TOKEN}@registry:5000/app`, "***@registry:5000/app"],
    [`${TOKEN}@10.0.0.7/app`, "***@10.0.0.7/app"],
    [`${TOKEN}@[fd00::7]:5000/app`, "***@[fd00::7]:5000/app"],
    [`to@ken@registry.example.com/app`, "***@registry.example.com/app"],
    [`https://${TOKEN}@registry.example.com/app`, "https://***@registry.example.com/app"],
    ["nginx:1.25@sha256:abc", "nginx:1.25@sha256:abc"],
    ["ghcr.io/acme/api:v1@sha256:abc", "ghcr.io/acme/api:v1@sha256:abc"],
    ["nginx@sha256:abc", "nginx@sha256:abc"],
    ["nginx@sha256:", "nginx@sha256:"],
    ["nginx@latest", "nginx@latest"],
    ["Not/Valid", "Not/Valid"],
  ])("%s → %s", (text, expected) => {
    expect(redactUserinfo(text)).toBe(expected);
  });
});

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
