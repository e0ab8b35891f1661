import { describe, expect, it } from "vitest";
import { redactSecrets, redactUrl, redactUserinfo } from "./redact.ts";

const TOKEN = "ghp_T0kenOnlySecret4417";

describe("redactSecrets", () => {
  it("removes known secrets and credentials by shape", () => {
    const text =
      'pull https://bob:hunter22@reg.example/v2/ failed: Authorization: Bearer abc.def-ghi token=xyz&x=1 "password=p4ss" s3cr3t';
    const out = redactSecrets(text, ["s3cr3t"]);
    expect(out).not.toMatch(/hunter22|abc\.def-ghi|xyz|p4ss|s3cr3t/);
    expect(out).toContain("https://[redacted]@reg.example/v2/");
    expect(out).toContain("Bearer [redacted]");
    expect(out).toContain("token=[redacted]&x=1");
  });

  it("leaves ordinary text and too-short secrets alone", () => {
    expect(redactSecrets("pull reg.example/app:v1 not found", ["ab"])).toBe(
      "pull reg.example/app:v1 not found",
    );
  });
});

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

describe("redactUrl", () => {
  it.each([
    ["http://user:PASSWORD@mirror.local:5000/v2", "http://***@mirror.local:5000/v2"],
    ["https://token@mirror.local", "https://***@mirror.local"],
    ["https://u:p@ss@mirror.local/x@y", "https://***@mirror.local/x@y"],
    ["https://mirror.local/path@v1", "https://mirror.local/path@v1"],
    ["mirror.local:5000", "mirror.local:5000"],
  ])("%s → %s", (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});
