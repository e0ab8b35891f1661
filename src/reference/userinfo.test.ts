import { describe, expect, it } from "vitest";
import { redactUserinfo } from "./userinfo.ts";

describe("redactUserinfo", () => {
  it.each([
    ["puller:Secret@registry.example.com/app:1", "***@registry.example.com/app:1"],
    ["https://puller:Secret@registry.example.com/app:1", "https://***@registry.example.com/app:1"],
    ["puller:Secret@registry.example.com", "***@registry.example.com"],
    ["puller:S@cret@127.0.0.1:5000/app", "***@127.0.0.1:5000/app"],
    ["nginx:1.25@sha256:abc", "nginx:1.25@sha256:abc"],
    ["ghcr.io/acme/api:v1@sha256:abc", "ghcr.io/acme/api:v1@sha256:abc"],
    ["nginx@latest", "nginx@latest"],
    ["Not/Valid", "Not/Valid"],
  ])("%s → %s", (text, expected) => {
    expect(redactUserinfo(text)).toBe(expected);
  });
});
