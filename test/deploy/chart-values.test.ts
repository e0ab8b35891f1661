import { describe, expect, it } from "vitest";
import { CHART, helm, requireHelm, valuesFile } from "../kubernetes/helm-support.ts";

// What charts/prepull refuses, and how it says so: values.schema.json for types, ranges, names
// and unknown keys (Helm prints the value's path), at lint, template, install and upgrade; the
// templates (templates/_validate.tpl) for what a schema cannot say clearly: host paths that would
// show the agent more of the node, variables the chart sets itself, rules between values (the
// readiness gate's among them). Every refusal renders nothing and names the value.

requireHelm();

const SCHEMA = "values don't meet the specifications of the schema(s)";
const digest = `sha256:${"c".repeat(64)}`;

const REFUSED: ReadonlyArray<readonly [string, Record<string, unknown>, readonly string[]]> = [
  [
    "an unknown runtime",
    { runtime: { type: "docker" } },
    [SCHEMA, "at '/runtime/type': value must be one of 'containerd', 'cri-o', 'k3s'"],
  ],
  [
    "a misspelt value",
    { diskGaurd: { enabled: true } },
    [SCHEMA, "additional properties 'diskGaurd' not allowed"],
  ],
  [
    "a disk threshold over 100%",
    { diskGuard: { enabled: true, threshold: 120 } },
    [SCHEMA, "at '/diskGuard/threshold': maximum: got 120, want 100"],
  ],
  [
    "a pin budget of 0",
    { diskGuard: { enabled: true }, pinning: { budget: 0 } },
    [SCHEMA, "at '/pinning/budget'"],
  ],
  [
    "a digest that is a tag",
    { image: { digest: "latest" } },
    [SCHEMA, "at '/image/digest': 'latest' does not match"],
  ],
  [
    "a duration without its unit",
    { agent: { resync: "2", concurrency: 4, shutdownGrace: "20s" } },
    [SCHEMA, "at '/agent/resync': '2' does not match pattern"],
  ],
  [
    "no pulls at all",
    { agent: { concurrency: 0 } },
    [SCHEMA, "at '/agent/concurrency': minimum: got 0, want 1"],
  ],
  [
    "an ImageSet of another apiVersion, with a digest of another algorithm",
    {
      imageSets: {
        "web.yaml": {
          apiVersion: "v1",
          kind: "ImageSet",
          metadata: { name: "web" },
          spec: { images: [{ image: "ghcr.io/acme/web:2.0", digest: "md5:abc" }] },
        },
      },
    },
    [
      SCHEMA,
      "at '/imageSets/web.yaml/apiVersion': value must be 'prepull/v1'",
      "at '/imageSets/web.yaml/spec/images/0/digest': 'md5:abc' does not match pattern",
    ],
  ],
  [
    "a misspelt ImageSet field",
    {
      imageSets: {
        "web.yaml": {
          apiVersion: "prepull/v1",
          kind: "ImageSet",
          metadata: { name: "web" },
          spec: { images: [{ image: "ghcr.io/acme/web:2.0", digests: digest }] },
        },
      },
    },
    [SCHEMA, "at '/imageSets/web.yaml/spec/images/0': additional properties 'digests' not allowed"],
  ],
  [
    "an ImageSet that is no file's text",
    { imageSets: { "web.yaml": 42 } },
    [SCHEMA, "at '/imageSets/web.yaml': got number, want object"],
  ],
  [
    "no memory limit",
    { resources: { requests: { cpu: "10m", memory: "128Mi" }, limits: { cpu: "1", memory: null } } },
    [SCHEMA, "at '/resources/limits'", "missing property 'memory'"],
  ],
  [
    "a relative socket directory",
    { runtime: { type: "containerd", socketDir: "run/containerd" } },
    [SCHEMA, "at '/runtime/socketDir': 'run/containerd' does not match pattern"],
  ],
  [
    "tolerations that are no list",
    { tolerations: { operator: "Exists" } },
    [SCHEMA, "at '/tolerations': got object, want array"],
  ],
  [
    "a Secret name Kubernetes refuses",
    { registryCredentials: { secretName: "Registry_Credentials" } },
    [SCHEMA, "at '/registryCredentials/secretName': 'Registry_Credentials' does not match pattern"],
  ],
  [
    "a priority above the user-defined range",
    { priorityClass: { create: true, value: 2_000_000_000 } },
    [SCHEMA, "at '/priorityClass/value': maximum"],
  ],
  [
    "a variable that is not the agent's",
    { agent: { env: { NODE_NAME: "other" } } },
    [SCHEMA, "at '/agent/env': additional properties 'NODE_NAME' not allowed"],
  ],
  [
    "a variable that is not a string",
    { agent: { env: { PREPULL_SPREAD: 5 } } },
    [SCHEMA, "at '/agent/env/PREPULL_SPREAD': got number, want string"],
  ],
  [
    "an unknown readiness gate",
    { readinessGate: { mode: "taint" } },
    [SCHEMA, "at '/readinessGate/mode': value must be one of 'none', 'agent', 'nodeReadinessController'"],
  ],
  [
    "a gate that neither opens nor holds at its deadline",
    { readinessGate: { mode: "agent", atDeadline: "close" } },
    [SCHEMA, "at '/readinessGate/atDeadline': value must be one of 'open', 'hold'"],
  ],
  [
    "a deadline without its unit",
    { readinessGate: { mode: "agent", deadline: 30 } },
    [SCHEMA, "at '/readinessGate/deadline'", "got number, want string", "value must be 0"],
  ],
  [
    "a deadline in days",
    { readinessGate: { mode: "agent", deadline: "1d" } },
    [SCHEMA, "at '/readinessGate/deadline': '1d' does not match pattern"],
  ],
  [
    "a startup taint without its effect",
    { readinessGate: { mode: "agent", taint: "example.com/images-warm" } },
    [SCHEMA, "at '/readinessGate/taint': 'example.com/images-warm' does not match pattern"],
  ],
  [
    "a reporter image that is no reference",
    { readinessGate: { mode: "nodeReadinessController", reporterImage: "Reporter Image" } },
    [SCHEMA, "at '/readinessGate/reporterImage': 'Reporter Image' does not match pattern"],
  ],
  [
    "a misspelt rule value",
    { readinessGate: { mode: "nodeReadinessController", nodeReadinessRule: { enabled: true } } },
    [SCHEMA, "at '/readinessGate/nodeReadinessRule': additional properties 'enabled' not allowed"],
  ],
  [
    "a broad socket directory",
    { runtime: { type: "containerd", socketDir: "/run" } },
    ["runtime.socketDir: /run is too broad a host directory for the agent to mount"],
  ],
  [
    "a broad registry configuration directory",
    { registryHosts: { enabled: true, dir: "/etc" } },
    ["registryHosts.dir: /etc is too broad a host directory for the agent to mount"],
  ],
  [
    "the runtime's root for the disk guard",
    { diskGuard: { enabled: true, imageFsDir: "/var/lib/containerd" } },
    [
      "diskGuard.imageFsDir: /var/lib/containerd holds the runtime's images",
      "/var/lib/containerd/prepull-statfs",
    ],
  ],
  [
    "a variable the chart sets from a value",
    { agent: { env: { PREPULL_PIN: "false" } } },
    ["agent.env.PREPULL_PIN: the chart sets it from pinning.enabled; set that instead"],
  ],
  [
    "an ImageSet file the agent would not read",
    { imageSets: { "web.txt": "apiVersion: prepull/v1\n" } },
    ['imageSets: "web.txt" is no ImageSet file name: the agent reads files named *.yaml, *.yml or *.json'],
  ],
  [
    "a pin budget without the disk guard",
    { pinning: { budget: 30 } },
    ["pinning.budget: the agent sizes the pin budget from the image filesystem", "diskGuard.enabled=true"],
  ],
  [
    "a startup taint whose key Kubernetes refuses",
    { readinessGate: { mode: "agent", taint: "Example.com/images warm:NoSchedule" } },
    ['readinessGate.taint: "Example.com/images warm" is no taint key', "e.g. example.com/images-warm"],
  ],
  [
    "a startup taint with the gate off",
    { readinessGate: { taint: "example.com/images-warm:NoSchedule" } },
    ["readinessGate.taint: the gate is off; set readinessGate.mode to agent or nodeReadinessController too"],
  ],
  [
    "a NodeReadinessRule without the Node Readiness Controller",
    { readinessGate: { mode: "agent", nodeReadinessRule: { create: true } } },
    [
      "readinessGate.nodeReadinessRule.create: the rule waits for the condition the Node Readiness Controller's reporter sets",
      "set readinessGate.mode=nodeReadinessController too",
    ],
  ],
  [
    "a taint for the Node Readiness Controller with no rule to name it",
    { readinessGate: { mode: "nodeReadinessController", taint: "readiness.k8s.io/images-warm:NoSchedule" } },
    [
      "readinessGate.taint: with nodeReadinessController the NodeReadinessRule names the taint",
      "readinessGate.nodeReadinessRule.create=true",
    ],
  ],
  [
    "a taint the Node Readiness Controller does not manage",
    {
      readinessGate: {
        mode: "nodeReadinessController",
        taint: "example.com/images-warm:NoSchedule",
        nodeReadinessRule: { create: true },
      },
    },
    [
      'readinessGate.taint: the Node Readiness Controller manages only taints under readiness.k8s.io/, not "example.com/images-warm"',
    ],
  ],
  [
    "a gate variable the chart sets from the gate's values",
    { readinessGate: { mode: "nodeReadinessController" }, agent: { env: { PREPULL_GATE_DEADLINE: "1h" } } },
    ["agent.env.PREPULL_GATE_DEADLINE: the chart sets it from readinessGate.deadline; set that instead"],
  ],
  [
    "the gate's taint removal without its token and RBAC",
    { agent: { env: { PREPULL_GATE_REMOVE_TAINT: "example.com/images-warm:NoSchedule" } } },
    [
      "agent.env.PREPULL_GATE_REMOVE_TAINT: the chart sets it from readinessGate.mode=agent and readinessGate.taint",
      "the token and RBAC it needs",
    ],
  ],
  [
    "the gate's node condition without its token and RBAC",
    {
      readinessGate: { mode: "nodeReadinessController" },
      agent: { env: { PREPULL_GATE_NODE_CONDITION: "true" } },
    },
    ["agent.env.PREPULL_GATE_NODE_CONDITION: the chart sets it from readinessGate.mode=agent"],
  ],
];

describe("charts/prepull refuses wrong values with a message that names them", () => {
  it.each(REFUSED)("%s", async (_name, values, messages) => {
    const file = await valuesFile(values);
    try {
      const template = await helm(["template", "prepull", CHART, "--namespace", "prepull", "-f", file.path]);
      for (const message of messages) expect(template.stderr).toContain(message);
      expect(template.stdout).toBe("");
      expect(template.code).toBe(1);
      // `helm lint --strict` refuses what the schema does, with the same message. It renders in
      // lint mode, where a template's `fail` is logged, not fatal: those rules hold at
      // template, install and upgrade.
      const lint = await helm(["lint", "--strict", CHART, "--namespace", "prepull", "-f", file.path]);
      if (messages[0] === SCHEMA) {
        for (const message of messages.slice(1)) expect(lint.stdout + lint.stderr).toContain(message);
        expect(lint.code).toBe(1);
      }
    } finally {
      await file.remove();
    }
  });

  it("accepts the defaults and drops a default ImageSet given null", async () => {
    const file = await valuesFile({
      imageSets: { "example.yaml": null, "web.yaml": "apiVersion: prepull/v1\n" },
    });
    try {
      const template = await helm(["template", "prepull", CHART, "--namespace", "prepull", "-f", file.path]);
      expect(template.stderr).toBe("");
      expect(template.code).toBe(0);
      expect(template.stdout).toContain("  web.yaml: |");
      expect(template.stdout).not.toContain("example.yaml");
    } finally {
      await file.remove();
    }
  });

  it.each([
    ["no deadline, as the number --set gives", { mode: "agent", deadline: 0 }, "0"],
    ["no deadline, as text", { mode: "nodeReadinessController", deadline: "0" }, "0"],
    ["a deadline of hours and minutes", { mode: "agent", deadline: "1h30m", atDeadline: "hold" }, "1h30m"],
  ])("accepts a readiness gate with %s", async (_name, readinessGate, deadline) => {
    const file = await valuesFile({ readinessGate });
    try {
      const template = await helm(["template", "prepull", CHART, "--namespace", "prepull", "-f", file.path]);
      expect(template.stderr).toBe("");
      expect(template.code).toBe(0);
      expect(template.stdout).toContain(
        `- name: PREPULL_GATE_DEADLINE\n              value: "${deadline}"\n`,
      );
    } finally {
      await file.remove();
    }
  });

  it("leaves the gate's deadline to agent.env while the gate is off, as before the gate's values", async () => {
    const file = await valuesFile({ agent: { env: { PREPULL_GATE_DEADLINE: "1h" } } });
    try {
      const template = await helm(["template", "prepull", CHART, "--namespace", "prepull", "-f", file.path]);
      expect(template.stderr).toBe("");
      expect(template.code).toBe(0);
      expect(template.stdout.match(/- name: PREPULL_GATE_/g)).toEqual(["- name: PREPULL_GATE_"]);
      expect(template.stdout).toContain(`- name: PREPULL_GATE_DEADLINE\n              value: "1h"\n`);
    } finally {
      await file.remove();
    }
  });
});
