// The in-memory containerd API's contract, held against the containerd client on a real
// containerd: what one answers about records and labels, the other must. Run on every runtime
// of the matrix by test:runtimes.
import { createContainerdClient, createImageNamer, probeContainerd } from "../../src/containerd/index.ts";
import { describePinStoreContract } from "../../src/pins/testing/index.ts";
import { createCriClient } from "../../src/cri/index.ts";
import { sandboxPublisher, startContainerd, startRegistry } from "../sandbox/index.ts";

describePinStoreContract("the containerd client on a real containerd", async () => {
  const [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  const runtime = createCriClient({ endpoint: containerd.endpoint });
  const api = createContainerdClient({ endpoint: containerd.endpoint });
  const { major, minor } = containerd.runtime;
  return {
    api,
    runtime,
    probe: () => probeContainerd(api, { criRuntimeName: "containerd" }),
    criHonoursPins: major > 1 || minor >= 7,
    publish: sandboxPublisher(registry),
    namer: createImageNamer(api),
    async close() {
      runtime.close();
      api.close();
      await Promise.all([containerd.stop(), registry.stop()]);
    },
  };
});
