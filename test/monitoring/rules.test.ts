import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { promtool } from "./prometheus.ts";
import {
  alertsOf,
  COMPONENT,
  readRules,
  readYamlDocuments,
  RULES_FILE,
  RULES_TESTS,
  type RuleGroups,
} from "./shipped.ts";

const RUNBOOKS = "https://github.com/prepull/prepull/blob/main/docs/monitoring.md";
const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

interface RuleTests {
  tests: Array<{
    name: string;
    alert_rule_test?: Array<{ eval_time: string; alertname: string; exp_alerts: unknown[] }>;
  }>;
}

describe("the alerting and recording rules (deploy/monitoring/rules.yaml)", () => {
  it("pass promtool check rules", async () => {
    const rules = await readRules();
    const count = rules.groups.reduce((sum, group) => sum + group.rules.length, 0);
    const result = await promtool(["check", "rules", RULES_FILE]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(`SUCCESS: ${String(count)} rules found`);
    expect(result.code).toBe(0);
  });

  it("pass their promtool unit tests, which test every alert firing and not firing", async () => {
    const result = await promtool(["test", "rules", RULES_TESTS]);
    expect(result.stdout + result.stderr).toContain("SUCCESS");
    expect(result.code).toBe(0);

    const tests = parse(await readFile(RULES_TESTS, "utf8")) as RuleTests;
    const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const { alert } of alertsOf(await readRules())) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${String(alert)} firing`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${String(alert)} not firing`,
      ).toBe(true);
    }
  });

  it("have unit tests that fail when any alert's for: is cut to one minute", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prepull-rules-mutant-"));
    temps.push(dir);
    await writeFile(join(dir, "rules.test.yaml"), await readFile(RULES_TESTS, "utf8"));
    const original = await readRules();
    for (const { alert } of alertsOf(original)) {
      const mutant: RuleGroups = {
        groups: original.groups.map((group) => ({
          ...group,
          rules: group.rules.map((rule) => (rule.alert === alert ? { ...rule, for: "1m" } : rule)),
        })),
      };
      await writeFile(join(dir, "rules.yaml"), stringify(mutant));
      const result = await promtool(["test", "rules", join(dir, "rules.test.yaml")]);
      expect(result.code, `the unit tests pass with ${String(alert)} at for: 1m`).not.toBe(0);
      expect(result.stdout + result.stderr).toContain(`alertname: ${String(alert)}`);
    }
  });

  it("ship the same groups as the PrometheusRule of deploy/components/monitoring", async () => {
    const [rule] = (await readYamlDocuments(join(COMPONENT, "prometheusrule.yaml"))) as Array<{
      apiVersion: string;
      kind: string;
      spec: RuleGroups;
    }>;
    expect(rule?.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(rule?.kind).toBe("PrometheusRule");
    expect(rule?.spec).toEqual(await readRules());
  });

  it("say in every alert what to look at next, and link a runbook section of docs/monitoring.md", async () => {
    const docs = await readFile("docs/monitoring.md", "utf8");
    const alerts = alertsOf(await readRules());
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const { alert, labels, annotations } of alerts) {
      const name = String(alert);
      expect(["info", "warning", "critical"], name).toContain(labels?.severity);
      expect(annotations?.summary, name).toBeTruthy();
      expect(annotations?.description, name).toContain("Next:");
      expect(annotations?.runbook_url, name).toBe(`${RUNBOOKS}#${name.toLowerCase()}`);
      expect(docs, `docs/monitoring.md has no runbook heading for ${name}`).toMatch(
        new RegExp(`^### ${name}$`, "m"),
      );
    }
  });

  it('select the agents by job="prepull", the job both scrape configurations name', async () => {
    const rules = await readRules();
    const jobs = rules.groups
      .flatMap((group) => group.rules.map((rule) => rule.expr))
      .flatMap((expr) => [...expr.matchAll(/\bup\{job="([^"]+)"\}/g)].map((match) => match[1]));
    expect(jobs.length).toBeGreaterThan(0);
    expect(new Set(jobs)).toEqual(new Set(["prepull"]));
  });
});
