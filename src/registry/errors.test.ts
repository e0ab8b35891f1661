import { describe, expect, it } from "vitest";
import { classifyTransport, failureFromAnswer } from "./errors.ts";

describe("classifying registry answers", () => {
  const context = {
    subject: "reg/app:1 at https://reg",
    credentialSources: ["a.json", "a.json"],
    maxRetries: 3,
  };

  it.each([
    [404, "not_found"],
    [401, "auth"],
    [403, "auth"],
    [429, "rate_limited"],
    [500, "network"],
    [503, "network"],
    [418, "invalid"],
  ])("HTTP %i is %s", (status, kind) => {
    expect(failureFromAnswer(status, Buffer.alloc(0), context).kind).toBe(kind);
  });

  it("names the credential files once and quotes the registry's error code", () => {
    const body = Buffer.from(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "no" }] }));
    expect(failureFromAnswer(401, body, context).message).toBe(
      "reg/app:1 at https://reg: registry answered 401 (UNAUTHORIZED: no); check the credentials in a.json",
    );
  });

  it("classifies transport failures by code", () => {
    const withCode = (code: string): Error => Object.assign(new Error("x"), { code });
    expect(classifyTransport(withCode("UND_ERR_HEADERS_TIMEOUT"), "s", 2000).message).toBe(
      "s: no answer within 2s",
    );
    expect(classifyTransport(withCode("SELF_SIGNED_CERT_IN_CHAIN"), "s", 1).kind).toBe("tls");
    expect(classifyTransport(withCode("ECONNREFUSED"), "s", 1).kind).toBe("network");
    expect(classifyTransport(new Error("fetch http://u:secret@h/ failed"), "s", 1).message).not.toContain(
      "secret",
    );
  });
});
