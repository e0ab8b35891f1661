import { describe, expect, it } from "vitest";
import { MemoryRegistry, MemoryRuntime } from "../../warm/testing/index.ts";
import { labelFilter, PIN_LABEL, PIN_VALUE } from "../../pins/index.ts";
import { describePinStoreContract } from "../../pins/testing/index.ts";
import { probeContainerd } from "../capability.ts";
import { createImageNamer } from "../image-namer.ts";
import { MemoryContainerdApi } from "./memory-containerd-api.ts";

function memory() {
  const registry = new MemoryRegistry();
  const runtime = new MemoryRuntime({ registries: [registry] });
  return { registry, runtime, api: new MemoryContainerdApi(runtime.store) };
}

describePinStoreContract("in memory", () => {
  const { registry, runtime, api } = memory();
  return Promise.resolve({
    api,
    runtime,
    probe: () => probeContainerd(api, { criRuntimeName: "containerd" }),
    criHonoursPins: true,
    publish: (path, tag) => Promise.resolve(registry.publish(path, tag)),
    namer: createImageNamer(api),
    close: () => Promise.resolve(),
  });
});

describe("MemoryContainerdApi, beyond the contract", () => {
  it("shares the daemon with the runtime: down for one is down for both", async () => {
    const { runtime, api } = memory();
    runtime.setAvailable(false);
    await expect(api.version()).rejects.toMatchObject({ kind: "unavailable" });
    await expect(api.listImages([])).rejects.toMatchObject({ kind: "unavailable" });
    runtime.setAvailable(true);
    await expect(api.listImages([])).resolves.toEqual([]);
  });

  it("lists every record without filters, and refuses a filter it cannot read", async () => {
    const { registry, runtime, api } = memory();
    const image = registry.publish("team/a", "v1");
    await runtime.pullImage(image.reference);
    expect((await api.listImages([])).map((record) => record.name).sort()).toEqual(
      [image.reference, `${image.repository}@${image.digest}`, image.configDigest].sort(),
    );
    await expect(api.listImages(["name==x"])).rejects.toMatchObject({ kind: "invalid" });
    expect(await api.listImages([labelFilter(PIN_LABEL, PIN_VALUE)])).toEqual([]);
  });
});
