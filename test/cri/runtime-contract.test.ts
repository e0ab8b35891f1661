// The in-memory runtime's contract, held against the CRI client on a real containerd: what one
// answers, the other must. Run on every runtime of the matrix by test:runtimes.
import { createCriClient } from "../../src/cri/index.ts";
import { describeImageRuntimeContract } from "../../src/warm/testing/index.ts";
import { sandboxPublisher, startContainerd, startRegistry } from "../sandbox/index.ts";

describeImageRuntimeContract("the CRI client on a real containerd", async () => {
  const [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  const runtime = createCriClient({ endpoint: containerd.endpoint });
  return {
    runtime,
    registryHost: registry.host,
    publish: sandboxPublisher(registry),
    async close() {
      runtime.close();
      await Promise.all([containerd.stop(), registry.stop()]);
    },
  };
});
