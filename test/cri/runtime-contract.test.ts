// The in-memory runtime's contract, held against the CRI client on a real containerd: what one
// answers, the other must. Run on every runtime of the matrix by test:runtimes.
import { createCriClient } from "../../src/cri/index.ts";
import { describeImageRuntimeContract } from "../../src/warm/testing/index.ts";
import { pushImage, startContainerd, startRegistry } from "../sandbox/index.ts";

describeImageRuntimeContract("the CRI client on a real containerd", async () => {
  const [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  const runtime = createCriClient({ endpoint: containerd.endpoint });
  let pushed = 0;
  return {
    runtime,
    registryHost: registry.host,
    async publish(path, tag) {
      pushed += 1;
      const image = await pushImage(registry, { repository: path, tag, seed: `${path}:${tag}#${pushed}` });
      return {
        repository: image.repository,
        tag,
        reference: image.reference,
        digest: image.digest,
        configDigest: image.configDigest,
        size: image.platformSize,
      };
    },
    async close() {
      runtime.close();
      await Promise.all([containerd.stop(), registry.stop()]);
    },
  };
});
