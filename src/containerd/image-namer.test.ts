import { describe, expect, it } from "vitest";
import { parseReference } from "../reference/index.ts";
import { warmOnce } from "../warm/index.ts";
import { MemoryRegistry, MemoryRuntime } from "../warm/testing/index.ts";
import { createImageNamer, type ImageRecordStore } from "./image-namer.ts";
import { MemoryContainerdApi } from "./testing/index.ts";
import { UnsupportedApiError } from "./types.ts";

describe("createImageNamer", () => {
  it("warms a tagged locked entry with one PullImage: the tag is pointed at the digest's record", async () => {
    const registry = new MemoryRegistry();
    const runtime = new MemoryRuntime({ registries: [registry] });
    const api = new MemoryContainerdApi(runtime.store);
    const image = registry.publish("team/api", "v1");
    const results = await warmOnce(
      [{ image: image.reference, reference: parseReference(image.reference), digest: image.digest }],
      {
        runtime,
        namer: createImageNamer(api),
        resolveTag: registry.resolveTag,
        concurrency: 1,
        pullTimeoutMs: 10_000,
      },
    );
    const digestName = `${image.repository}@${image.digest}`;
    expect(results).toMatchObject([{ outcome: "pulled", pulls: [digestName], imageId: image.configDigest }]);
    expect(runtime.pulls()).toEqual([digestName]);
    expect(await api.getImage(image.reference)).toMatchObject({
      target: { digest: image.digest },
      labels: { "io.cri-containerd.image": "managed" },
    });
  });

  it("after the socket turned out not to serve containerd's API, fails at once without asking again", async () => {
    let asked = 0;
    const crio: ImageRecordStore = {
      getImage: () => {
        asked += 1;
        return Promise.reject(new UnsupportedApiError("Get: the runtime does not serve containerd's API"));
      },
      putImage: () => Promise.reject(new Error("not reached")),
    };
    const namer = createImageNamer(crio);
    await expect(namer.tagImage("r/a:v1", "r/a@sha256:1")).rejects.toBeInstanceOf(UnsupportedApiError);
    await expect(namer.tagImage("r/b:v1", "r/b@sha256:2")).rejects.toBeInstanceOf(UnsupportedApiError);
    expect(asked).toBe(1);
  });
});
