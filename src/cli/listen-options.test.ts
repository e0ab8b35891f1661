import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { UsageError } from "./context.ts";
import { listenAddress, PROBE_PORT, probeAddress, probeListenAddress } from "./listen-options.ts";

describe("--listen and --probe-listen", () => {
  it("read HOST:PORT, an empty host meaning every address", () => {
    expect(listenAddress(":8080")).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(probeListenAddress("[::]:9000")).toEqual({ host: "::", port: 9000 });
    expect(probeListenAddress("off")).toBe("off");
    for (const bad of ["8081", "none", "", "host:port"]) {
      expect(() => probeListenAddress(bad)).toThrow(InvalidArgumentError);
    }
  });

  it("put the probe port on --listen's host by default, at any free port when --listen asks for one", () => {
    expect(PROBE_PORT).toBe(8081);
    expect(probeAddress({ host: "0.0.0.0", port: 8080 }, undefined)).toEqual({ host: "0.0.0.0", port: 8081 });
    expect(probeAddress({ host: "::1", port: 9090 }, undefined)).toEqual({ host: "::1", port: 8081 });
    expect(probeAddress({ host: "127.0.0.1", port: 0 }, undefined)).toEqual({ host: "127.0.0.1", port: 0 });
    expect(probeAddress({ host: "0.0.0.0", port: 8080 }, { host: "10.0.0.7", port: 9000 })).toEqual({
      host: "10.0.0.7",
      port: 9000,
    });
    expect(probeAddress({ host: "0.0.0.0", port: 8080 }, "off")).toBeUndefined();
  });

  it("refuse a probe port that would take the status server's", () => {
    expect(() => probeAddress({ host: "0.0.0.0", port: 8081 }, undefined)).toThrow(UsageError);
    expect(() => probeAddress({ host: "0.0.0.0", port: 9000 }, { host: "127.0.0.1", port: 9000 })).toThrow(
      /--probe-listen 127\.0\.0\.1:9000 takes the port of --listen 0\.0\.0\.0:9000/,
    );
    expect(() => probeAddress({ host: "127.0.0.1", port: 0 }, { host: "127.0.0.1", port: 0 })).not.toThrow();
    expect(probeAddress({ host: "10.0.0.7", port: 9000 }, { host: "10.0.0.8", port: 9000 })).toEqual({
      host: "10.0.0.8",
      port: 9000,
    });
  });
});
