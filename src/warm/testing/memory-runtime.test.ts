import { afterEach, describe, expect, it, vi } from "vitest";
import { ClassifiedError } from "../../failure/index.ts";
import { MemoryRegistry } from "./memory-registry.ts";
import { MemoryRuntime } from "./memory-runtime.ts";
import { describeImageRuntimeContract } from "./runtime-contract.ts";

describeImageRuntimeContract("in memory", () => {
  const registry = new MemoryRegistry();
  const runtime = new MemoryRuntime({ registries: [registry] });
  return Promise.resolve({
    runtime,
    registryHost: registry.host,
    publish: (path, tag) => Promise.resolve(registry.publish(path, tag)),
    close: () => Promise.resolve(),
  });
});

function memory() {
  const registry = new MemoryRegistry();
  return { registry, runtime: new MemoryRuntime({ registries: [registry] }) };
}

const settle = async <T>(promise: Promise<T>): Promise<T | Error> =>
  promise.catch((error: unknown) => error as Error);

describe("MemoryRuntime, beyond the contract", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fails the pulls of one reference with the injected error, as often as asked", async () => {
    const { registry, runtime } = memory();
    const a = registry.publish("team/a", "v1");
    const b = registry.publish("team/b", "v1");
    const refused = new ClassifiedError("auth", "401 Unauthorized");
    runtime.failPulls(a.reference, refused, { times: 1 });
    await expect(runtime.pullImage(a.reference)).rejects.toBe(refused);
    expect(await runtime.imageStatus(a.reference)).toBeUndefined();
    expect(await runtime.pullImage(b.reference)).toBe(b.configDigest);
    expect(await runtime.pullImage(a.reference)).toBe(a.configDigest);
    expect(runtime.pulls()).toEqual([a.reference, b.reference, a.reference]);
  });

  it("keeps failing until healed, whatever the reference is spelled as", async () => {
    const registry = new MemoryRegistry("docker.io");
    const runtime = new MemoryRuntime({ registries: [registry] });
    const image = registry.publish("library/redis", "latest");
    runtime.failPulls("redis", new ClassifiedError("network", "connection reset"));
    await expect(runtime.pullImage("docker.io/library/redis:latest")).rejects.toThrow("connection reset");
    await expect(runtime.pullImage("redis")).rejects.toThrow("connection reset");
    runtime.healPulls("redis:latest");
    expect(await runtime.pullImage("redis")).toBe(image.configDigest);
  });

  it("holds a pull until released, and records nothing for a pull cancelled while held", async () => {
    const { registry, runtime } = memory();
    const image = registry.publish("team/a", "v1");
    const hold = runtime.holdPull(image.reference);
    const pulled = runtime.pullImage(image.reference);
    await hold.reached;
    expect(await runtime.imageStatus(image.reference)).toBeUndefined();
    hold.release();
    expect(await pulled).toBe(image.configDigest);

    runtime.holdPull(image.reference);
    await runtime.removeImage(image.reference);
    const controller = new AbortController();
    const cancelled = settle(runtime.pullImage(image.reference, { signal: controller.signal }));
    controller.abort(new Error("stop"));
    expect(await cancelled).toEqual(new Error("stop"));
    expect(await runtime.imageStatus(image.reference)).toBeUndefined();
  });

  it("records the image of a pull cancelled between unpack and record, while the caller sees the cancel", async () => {
    const { registry, runtime } = memory();
    const image = registry.publish("team/a", "v1");
    const hold = runtime.holdPull(image.reference, { recordsWhenCancelled: true });
    const controller = new AbortController();
    const cancelled = settle(runtime.pullImage(image.reference, { signal: controller.signal }));
    await hold.reached;
    controller.abort(new Error("stop"));
    expect(await cancelled).toEqual(new Error("stop"));
    expect((await runtime.imageStatus(image.reference))?.id).toBe(image.configDigest);
  });

  it("times a held pull out at its deadline", async () => {
    vi.useFakeTimers();
    const { registry, runtime } = memory();
    const image = registry.publish("team/a", "v1");
    runtime.holdPull(image.reference);
    const pulled = settle(runtime.pullImage(image.reference, { timeoutMs: 5_000 }));
    await vi.advanceTimersByTimeAsync(5_000);
    const error = await pulled;
    expect(error).toBeInstanceOf(ClassifiedError);
    expect((error as ClassifiedError).kind).toBe("timeout");
  });

  it("holds a listing and answers with the images of the moment it is released", async () => {
    const { registry, runtime } = memory();
    const image = registry.publish("team/a", "v1");
    const hold = runtime.holdListing();
    const listed = runtime.listImages();
    await hold.reached;
    await runtime.pullImage(image.reference);
    hold.release();
    expect((await listed).map((entry) => entry.id)).toEqual([image.configDigest]);
  });

  it("fails every call as unavailable while the daemon is down", async () => {
    const { registry, runtime } = memory();
    const image = registry.publish("team/a", "v1");
    runtime.setAvailable(false);
    const calls: Array<Promise<unknown>> = [
      runtime.version(),
      runtime.listImages(),
      runtime.pullImage(image.reference),
    ];
    for (const call of calls) {
      const error = await settle(call);
      expect(error).toBeInstanceOf(ClassifiedError);
      expect((error as ClassifiedError).kind).toBe("unavailable");
    }
    runtime.setAvailable(true);
    expect(await runtime.pullImage(image.reference)).toBe(image.configDigest);
  });

  it("fails a pull from a host no registry serves as a network error, and a malformed one as invalid", async () => {
    const { runtime } = memory();
    const unknownHost = await settle(runtime.pullImage("elsewhere.test/team/a:v1"));
    expect((unknownHost as ClassifiedError).kind).toBe("network");
    const malformed = await settle(runtime.pullImage("Team//A:v1"));
    expect((malformed as ClassifiedError).kind).toBe("invalid");
  });

  it("counts each stored image once in the image filesystem's use", async () => {
    const { registry, runtime } = memory();
    const image = registry.publish("team/a", "v1", { size: 5_000 });
    await runtime.pullImage(image.reference);
    await runtime.pullImage(`${image.repository}@${image.digest}`);
    expect((await runtime.imageFsInfo())[0]?.usedBytes).toBe(5_000);
  });
});

describe("MemoryRegistry", () => {
  it("answers where a tag points and what a pull weighs, and moves a tag on a new publish", async () => {
    const registry = new MemoryRegistry();
    const first = registry.publish("team/a", "v1", { size: 4_096 });
    const reference = { domain: registry.host, path: "team/a", tag: "v1", digest: undefined };
    expect(await registry.resolveTag(reference)).toBe(first.digest);
    expect(await registry.sizeOf(reference, new AbortController().signal)).toEqual({ compressed: 4_096 });
    const second = registry.publish("team/a", "v1");
    expect(await registry.resolveTag(reference)).toBe(second.digest);
    registry.tag(first, "v1");
    expect(await registry.resolveTag(reference)).toBe(first.digest);
    await expect(registry.resolveTag({ ...reference, tag: "v2" })).rejects.toMatchObject({
      kind: "not_found",
    });
  });
});
