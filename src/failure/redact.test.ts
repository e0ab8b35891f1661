import { describe, expect, it } from "vitest";
import { redactSecrets } from "./redact.ts";

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
