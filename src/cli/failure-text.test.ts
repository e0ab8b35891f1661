import { describe, expect, it } from "vitest";
import { failureLine, shortenFailure } from "./failure-text.ts";

describe("shortenFailure", () => {
  it("keeps what matters of containerd's nested pull errors and names the image once", () => {
    const image = "127.0.0.1:5000/team/app:v1";
    const message = `PullImage ${image}: failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found`;
    expect(shortenFailure(image, message)).toBe("not found");
    expect(failureLine(image, "not_found", message)).toBe(`${image}: not_found: not found\n`);
  });

  it("recognises the canonical form of a familiar name", () => {
    const message =
      'failed to pull and unpack image "docker.io/library/nginx:1.27": failed to resolve reference "docker.io/library/nginx:1.27": unexpected status from HEAD request: 401 Unauthorized';
    expect(shortenFailure("nginx:1.27", message)).toBe(
      "unexpected status from HEAD request: 401 Unauthorized",
    );
  });

  it("keeps the network detail", () => {
    const message =
      'failed to resolve reference "ghcr.io/a/b:1": failed to do request: Head "https://ghcr.io/v2/a/b/manifests/1": dial tcp 10.0.0.1:443: connect: connection refused';
    expect(shortenFailure("ghcr.io/a/b:1", message)).toBe(
      'Head "https://ghcr.io/v2/a/b/manifests/1": dial tcp 10.0.0.1:443: connect: connection refused',
    );
  });

  it("drops the registry client's own mention of the image", () => {
    expect(shortenFailure("127.0.0.1:1/a:1", "127.0.0.1:1/a:1 at http://127.0.0.1:1: ECONNREFUSED")).toBe(
      "http://127.0.0.1:1: ECONNREFUSED",
    );
    expect(
      shortenFailure("ghcr.io/a/b:1", "token service ghcr.io refused an anonymous token for ghcr.io/a/b:1"),
    ).toBe("token service ghcr.io refused an anonymous token");
  });

  it("leaves messages that are not a chain alone", () => {
    expect(shortenFailure("a:1", "disk would be 91% full (threshold 80%)")).toBe(
      "disk would be 91% full (threshold 80%)",
    );
    expect(shortenFailure("a:1", "PullImage a:1")).toBe("PullImage a:1");
  });
});
