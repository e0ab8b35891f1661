import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { startAgentProcess, type AgentProcess } from "../agent/agent-process.ts";
import { ConfigMapVolume, imageSetYaml } from "../agent/config-map.ts";
import { runPrepull } from "../cli/run-prepull.ts";
import { freePort } from "../sandbox/processes.ts";
import {
  pushImage,
  startContainerd,
  startRegistry,
  type ContainerdInstance,
  type PushedImage,
  type RegistryInstance,
} from "../sandbox/index.ts";
import { askEveryPanel, finiteValues, shapeProblems, type TargetAnswer } from "./dashboard-queries.ts";
import { eventually, scaledRules, scrapeJob } from "./fleet-setup.ts";
import { promtool, startPrometheus, type Alert, type PrometheusInstance } from "./prometheus.ts";
import { durationSeconds, readDashboard, type RuleGroups } from "./shipped.ts";

/**
 * A real Prometheus scrapes a real agent through the shipped scrape job while the agent warms a
 * set on the sandbox's containerd, then moves to a set with a drifted and a failing entry. The
 * dashboard's queries and the rules run against what it recorded.
 */

/** Rules run with every `for:` read in seconds instead of minutes: a 10m alert fires after 10 s. */
const FOR_SCALE = 60;
const NODE = "node-a";

let containerd: ContainerdInstance;
let registry: RegistryInstance;
let prometheus: PrometheusInstance;
let agent: AgentProcess;
let volume: ConfigMapVolume;
let scratch: string;
let agentPort: number;
let images: { a: PushedImage; b: PushedImage; c: PushedImage; old: PushedImage };
/** What beforeAll started, stopped in reverse order whatever failed. */
const cleanups: Array<() => Promise<unknown>> = [];
const startedAt = Date.now() / 1000;

let rules: RuleGroups;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "prepull-fleet-"));
  cleanups.push(() => rm(scratch, { recursive: true, force: true }));
  [containerd, registry] = await Promise.all([startContainerd(), startRegistry()]);
  cleanups.push(() => Promise.all([containerd.stop(), registry.stop()]));
  const push = (repository: string, tag: string, size: number, seed = repository) =>
    pushImage(registry, { repository, tag, layers: [{ size, seed }] });
  const [a, b, c, old] = await Promise.all([
    push("fleet/a", "1", 2048),
    push("fleet/b", "1", 2048),
    push("fleet/c", "1", 3 * 1024 * 1024),
    push("fleet/drift", "v1", 2048, "drift-old"),
  ]);
  // The locked tag moves: the entry locked at `old` drifts.
  await push("fleet/drift", "v1", 2048, "drift-new");
  images = { a, b, c, old };

  agentPort = await freePort();
  const scaled = await scaledRules(scratch, FOR_SCALE);
  rules = scaled.rules;
  prometheus = await startPrometheus({
    scrapeConfigs: [await scrapeJob(agentPort, NODE)],
    ruleFiles: [scaled.file],
  });
  cleanups.push(() => prometheus.stop());
  volume = await ConfigMapVolume.create({ "set.yaml": imageSetYaml("fleet", [a.reference, b.reference]) });
  cleanups.push(() => volume.remove());
  agent = await startAgentProcess([
    "--config",
    volume.dir,
    "--runtime-endpoint",
    containerd.endpoint,
    "--node-name",
    NODE,
    "--resync",
    "2s",
    "--listen",
    `127.0.0.1:${String(agentPort)}`,
  ]);
  cleanups.push(() => agent.stop("SIGKILL"));
}, 120_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("prepull's monitoring against a real Prometheus scraping a real agent", { timeout: 240_000 }, () => {
  it("scrapes the agent through the shipped annotation job, warm at its first generation", async () => {
    onTestFailed(() => {
      process.stderr.write(`prometheus log:\n${prometheus.logTail(40)}\n`);
    });
    // Prometheus applies its scrape configuration a moment after it is ready.
    const targets = await eventually("the scrape target", async () => {
      const found = await prometheus.targets();
      return found.active.length + found.dropped.length === 2 ? found : undefined;
    });
    expect(targets.active).toHaveLength(1);
    expect(targets.active[0]?.labels).toMatchObject({
      job: "prepull",
      node: NODE,
      namespace: "prepull",
      pod: "prepull-agent-x7k2p",
      instance: `127.0.0.1:${String(agentPort)}`,
    });
    // The warm-up Job's pod is annotated too, but is not an agent.
    expect(targets.dropped.map((t) => t.discoveredLabels.__meta_kubernetes_pod_name)).toEqual([
      "prepull-warm-up-9q2lz",
    ]);
    const warm = await eventually("Prometheus to record the agent warm", async () => {
      const result = await prometheus.query(`prepull_warm{job="prepull",node="${NODE}"} == 1`);
      return result.length === 1 ? result : undefined;
    });
    expect(warm[0]?.metric.pod).toBe("prepull-agent-x7k2p");
    // The rules record the generation's time to warm at their next evaluation; the next test
    // moves to another generation, so wait for that record first.
    await eventually("the rules to record the first generation's time to warm", async () => {
      const recorded = await prometheus.query("generation:prepull_time_to_warm_seconds:max");
      return recorded.length === 1 ? recorded : undefined;
    });
  });

  it("fires the failing entry's alert within its for: time, naming the kind, and its next step works", async () => {
    onTestFailed(() => {
      process.stderr.write(`prometheus log:\n${prometheus.logTail(40)}\n`);
    });
    const missing = `${registry.host}/fleet/missing:1`;
    const driftEntry = { image: `${images.old.repository}:v1`, digest: images.old.digest };
    await volume.update({
      "set.yaml": imageSetYaml("fleet", [
        images.a.reference,
        images.b.reference,
        images.c.reference,
        driftEntry,
        missing,
      ]),
    });
    const status = await agent.waitFor(
      (s) =>
        s.entries.some((e) => e.image === missing && e.state === "failed") &&
        s.entries.some((e) => e.image === driftEntry.image && e.state === "drifted") &&
        s.entries.some((e) => e.image === images.c.reference && e.state === "present"),
      "the failing entry failed, the drifted one drifted and the new one present",
    );
    const failedSeenAt = Date.now();
    expect(status.entries.find((e) => e.image === missing)?.errorKind).toBe("not_found");

    const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === "PrepullPullsFailing");
    const forSeconds = durationSeconds(rule?.for ?? "");
    let pendingSeenAt: number | undefined;
    const firing = await eventually(
      "PrepullPullsFailing to fire",
      async () => {
        const alert = (await prometheus.alerts()).find(
          (a: Alert) => a.labels.alertname === "PrepullPullsFailing" && a.labels.kind === "not_found",
        );
        if (alert?.state === "pending") pendingSeenAt ??= Date.now();
        return alert?.state === "firing" ? { alert, at: Date.now() } : undefined;
      },
      (forSeconds + 20) * 1000,
    );
    // Scrape and evaluation every second: active within a few seconds of the failure, firing
    // `for` after that (and not before: it was seen pending first).
    const activeAt = Date.parse(firing.alert.activeAt);
    expect(activeAt - failedSeenAt).toBeLessThan(5_000);
    expect(pendingSeenAt).toBeDefined();
    expect(firing.at - activeAt).toBeGreaterThanOrEqual(forSeconds * 1000);
    expect(firing.at - failedSeenAt).toBeLessThan((forSeconds + 8) * 1000);
    expect(firing.alert.labels).toMatchObject({ node: NODE, severity: "warning", kind: "not_found" });
    expect(firing.alert.value).toBe("1e+00");

    // The next step the description gives, run as written: it names the entry and its kind.
    const command = /`prepull (wait --agents \S+ -t 0s)`/.exec(firing.alert.annotations.description ?? "");
    expect(command?.[1]).toBe(`wait --agents 127.0.0.1:${String(agentPort)} -t 0s`);
    const wait = await runPrepull((command?.[1] ?? "").split(" "));
    expect(wait.code).toBe(1);
    expect(wait.stdout).toContain(`${missing}: failed: not_found`);
  });

  it("serves metrics promtool check metrics finds nothing wrong with", async () => {
    const scrape = await agent.get("/metrics");
    expect(scrape.body).toContain('prepull_failing_entries{kind="not_found"} 1');
    // docs/monitoring.md: at most 189 prepull_ series per agent, whatever the set, plus 20 drift series.
    const prepullSeries = scrape.body.split("\n").filter((line) => line.startsWith("prepull_"));
    expect(prepullSeries.length).toBeLessThanOrEqual(189 + 20);
    const lint = await promtool(["check", "metrics"], scrape.body);
    expect(lint.stdout + lint.stderr).toBe("");
    expect(lint.code).toBe(0);
  });

  it("evaluates every rule without an error", async () => {
    const loaded = await prometheus.rules();
    expect(loaded).toHaveLength(rules.groups.reduce((sum, group) => sum + group.rules.length, 0));
    for (const rule of loaded)
      expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? "" }).toEqual({
        rule: rule.name,
        health: "ok",
        error: "",
      });
  });

  it("answers every dashboard panel with data of the shape it shows", async () => {
    onTestFailed(async () => {
      const scrapes = await prometheus.queryRange(
        "up or scrape_duration_seconds",
        startedAt,
        Date.now() / 1000,
        1,
      );
      process.stderr.write(`scrapes: ${JSON.stringify(scrapes)}\n`);
    });
    const dashboard = await readDashboard();
    const end = Date.now() / 1000;
    const answers = await askEveryPanel(prometheus, dashboard, {
      start: startedAt,
      end,
      rateInterval: "10s",
    });
    expect(answers.length).toBeGreaterThanOrEqual(30);
    const pinning = containerd.runtime.major > 1 || containerd.runtime.minor >= 7;
    // Without pinning (containerd 1.6) there is no pin budget, so no share of it to show.
    const needsPinning = new Set(["Pins against their budget, per node"]);
    const problems = answers
      .filter((answer) => pinning || !needsPinning.has(answer.panel.title))
      .flatMap(shapeProblems);
    expect(problems).toEqual([]);
    expect(await prometheus.labelValues("node", "prepull_warm")).toEqual([NODE]);

    const answer = (title: string, refId = "A"): TargetAnswer => {
      const found = answers.find((a) => a.panel.title === title && a.target.refId === refId);
      if (found === undefined) throw new Error(`no panel "${title}" ${refId}`);
      return found;
    };
    const now = (title: string, refId = "A") => answer(title, refId).instant ?? [];
    const last = (title: string, refId = "A") => now(title, refId).map((s) => Number(s.value?.[1]));
    const everything = (title: string, refId = "A") => answer(title, refId).range.flatMap(finiteValues);

    expect(last("Nodes not warm")).toEqual([1]);
    expect(last("Agents reporting")).toEqual([1]);
    expect(last("Agents warm")).toEqual([0]);
    expect(last("Generations in force")).toEqual([1]);
    expect(last("Entries failing")).toEqual([1]);
    expect(now("Failing entries now, by node and kind").map((s) => s.metric)).toEqual([
      { node: NODE, kind: "not_found" },
    ]);
    expect(now("Nodes not warm: their entries that are not present").map((s) => s.metric.node)).toContain(
      NODE,
    );
    const drift = now("Drifted images: on how many nodes, for how long");
    expect(drift.map((s) => [s.metric.image, Number(s.value?.[1])])).toEqual([
      [`${images.old.repository}:v1`, 1],
    ]);
    const driftedFor = Number(now("Drifted images: on how many nodes, for how long", "B")[0]?.value?.[1]);
    expect(driftedFor).toBeGreaterThanOrEqual(0);
    expect(driftedFor).toBeLessThan(end - startedAt);
    // The first generation was warm everywhere (one node): a time between 0 and the test's age.
    const rollout = everything("Time from a new generation to warm on every node");
    expect(Math.min(...rollout)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...rollout)).toBeLessThan(end - startedAt);
    expect(Math.max(...everything("Pull duration"))).toBeGreaterThan(0);
    expect(Math.max(...everything("Bytes pulled"))).toBeGreaterThan(0);
    expect(answer("Failed attempts by kind").range.map((s) => s.metric.kind)).toEqual(["not_found"]);
    expect(everything("Image filesystem use and the guard's threshold", "B")).toContain(0.8);
    const used = everything("Image filesystem use and the guard's threshold");
    expect(Math.min(...used)).toBeGreaterThan(0);
    expect(Math.max(...used)).toBeLessThan(1);
    if (pinning) {
      const pinned = answer("Entries by pin decision").range.find((s) => s.metric.reason === "pinned");
      expect(Math.max(...finiteValues(pinned ?? { metric: {} }))).toBeGreaterThan(0);
    }
  });

  it("records how long the first generation took to be warm on every node", async () => {
    const recorded = await prometheus.queryRange(
      "generation:prepull_time_to_warm_seconds:max",
      startedAt,
      Date.now() / 1000,
      1,
    );
    expect(recorded).toHaveLength(1);
    const values = finiteValues(recorded[0] ?? { metric: {} });
    expect(values.length).toBeGreaterThan(0);
    expect(Math.max(...values)).toBeLessThan(Date.now() / 1000 - startedAt);
  });
});
