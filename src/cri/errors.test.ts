import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { classifyRuntimeError } from "./errors.ts";

const context = {
  method: "PullImage",
  endpoint: "unix:///run/containerd/containerd.sock",
  image: "reg.example/app:1",
};

describe("classifyRuntimeError", () => {
  it("classifies by code, then by the runtime's words", () => {
    expect(
      classifyRuntimeError({ code: status.NOT_FOUND, details: "reg.example/app:1: not found" }, context).kind,
    ).toBe("not_found");
    expect(
      classifyRuntimeError({ code: status.UNKNOWN, details: "failed to resolve: 401 Unauthorized" }, context)
        .kind,
    ).toBe("auth");
    expect(classifyRuntimeError({ code: status.CANCELLED, details: "context canceled" }, context).kind).toBe(
      "runtime",
    );
  });

  it("calls a failure past the call's deadline a timeout, whatever the runtime answered first", () => {
    const error = classifyRuntimeError(
      { code: status.CANCELLED, details: "failed to pull and unpack image: context canceled" },
      { ...context, pastDeadline: true },
    );
    expect(error.kind).toBe("timeout");
    expect(error.message).toBe(
      "PullImage reg.example/app:1: no answer from the runtime at unix:///run/containerd/containerd.sock before the deadline",
    );
  });

  it("says an artifact refused at unpack needs containerd 2.1, keeping the runtime's words", () => {
    const details =
      'failed to pull and unpack image "reg.example/app:1": failed to unpack image on snapshotter overlayfs: mismatched image rootfs and manifest layers';
    const error = classifyRuntimeError({ code: status.UNKNOWN, details }, context);
    expect(error.kind).toBe("unsupported");
    expect(error.message).toBe(
      `PullImage reg.example/app:1: this runtime is too old for OCI artifacts (image volumes); containerd 2.1 or later stores them: ${details}`,
    );
  });

  it("keeps the pull's secrets out of the message", () => {
    const error = classifyRuntimeError(
      { code: status.UNKNOWN, details: "pull failed for https://bob:s3cret@reg.example/v2/" },
      { ...context, secrets: ["s3cret"] },
    );
    expect(error.message).not.toContain("s3cret");
  });
});
