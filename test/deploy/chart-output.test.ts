import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHART, helmOk, renderChart, requireHelm, type RenderOptions } from "../kubernetes/helm-support.ts";
import { AGENT_TAINT, combination } from "./chart-combinations.ts";
import { one, planOf, tempDir, waitWithoutAgents } from "./manifest-checks.ts";

// charts/prepull's output as its readers take it: `prepull plan` and `prepull wait` read the
// rendered objects and ImageSets, the operator reads NOTES.txt after an install.

requireHelm();

/** `prepull plan --fail-on warning` passes what the chart renders with `values`. */
async function expectPlanPasses(values: Record<string, unknown>, release?: RenderOptions): Promise<void> {
  const plan = await planOf(await renderChart(values, release), await tempDir("prepull-chart-plan-"));
  expect(plan.stdout).toContain("0 errors, 0 warnings");
  expect(plan.code).toBe(0);
}

describe("charts/prepull's rendered objects, read by prepull itself", () => {
  it("pass prepull plan with no warnings, test hook included", async () => {
    await expectPlanPasses(
      combination("no PriorityClass, no warm-up RBAC, agent settings, the image by digest").values,
    );
  });

  it.each([
    "the readiness gate in the agent, on k3s, with the disk guard and no warm-up RBAC",
    "the readiness gate through the Node Readiness Controller, its rule and a mirrored reporter",
  ])("pass prepull plan with no warnings with %s", async (name) => {
    const { values, release } = combination(name);
    await expectPlanPasses(values, release);
  });

  it("hold ImageSets the agent loads, given as YAML or as text", async () => {
    const dir = await tempDir("prepull-chart-sets-");
    const objects = await renderChart(combination("ImageSets as YAML and as text, several files").values);
    const { data } = one(objects, "ConfigMap") as { data: Record<string, string> };
    expect(Object.keys(data).sort()).toEqual(["platform.yml", "web.yaml"]);
    for (const [name, text] of Object.entries(data)) await writeFile(join(dir, name), text);
    // One round against no agent: the sets load (exit 1 is "not warm", 2 would be invalid input).
    const wait = await waitWithoutAgents(dir);
    expect(wait.stderr).toBe("");
    expect(wait.code).toBe(1);
  });

  it("say in NOTES.txt how to see that the nodes are warm", async () => {
    const notes = await helmOk(["install", "edge", CHART, "--namespace", "infra", "--dry-run=client"]);
    expect(notes).toContain("helm test edge -n infra --logs");
    expect(notes).toContain("ConfigMap infra/edge-prepull-imagesets");
    expect(notes).toContain("Set diskGuard.enabled=true");
    expect(notes).not.toContain("readiness gate");
  });

  it("say in NOTES.txt which taint to register new nodes with, and how to see the gate", async () => {
    const install = (...set: string[]): Promise<string> =>
      helmOk([
        "install",
        "edge",
        CHART,
        "--namespace",
        "infra",
        "--dry-run=client",
        ...set.flatMap((value) => ["--set", value]),
      ]);
    const agent = await install("readinessGate.mode=agent", "readinessGate.deadline=0");
    expect(agent).toContain(`register new nodes with the startup taint\n\n  ${AGENT_TAINT}\n`);
    expect(agent).toContain("There is no deadline: a node that never gets warm keeps the taint.");
    expect(agent).toContain("ValidatingAdmissionPolicy edge-prepull-readiness-gate-own-node");
    expect(agent).toContain("kubectl -n infra get events --field-selector reason=PrepullGateOpened");

    const withRule = await install(
      "readinessGate.mode=nodeReadinessController",
      "readinessGate.nodeReadinessRule.create=true",
      "readinessGate.atDeadline=hold",
    );
    expect(withRule).toContain("NodeReadinessRule edge-prepull-images-warm names the taint");
    expect(withRule).toContain("  readiness.k8s.io/prepull-images-warm=pending:NoSchedule\n");
    expect(withRule).toContain(
      "A gate still closed 30m after the agent starts stays closed (reason DeadlineHeld).",
    );

    const withoutRule = await install("readinessGate.mode=nodeReadinessController");
    expect(withoutRule).toContain("No NodeReadinessRule yet");
    expect(withoutRule).toContain("opens anyway (reason DeadlineOpened)");
    expect(withoutRule).not.toContain("=pending:");
  });
});
