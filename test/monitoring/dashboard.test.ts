import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { DASHBOARD, DOCS_DASHBOARD, readDashboard } from "./shipped.ts";

/** What Grafana needs of the dashboard file; its queries are run by fleet.test.ts on a real Prometheus. */
describe("the Grafana dashboard (deploy/monitoring/grafana-dashboard.json)", () => {
  it("is the same file in docs/", async () => {
    expect(await readFile(DOCS_DASHBOARD, "utf8")).toBe(await readFile(DASHBOARD, "utf8"));
  });

  it("asks the data source the user picks, for the nodes they pick", async () => {
    const dashboard = await readDashboard();
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.datasource?.type).toBe("datasource");
    expect(variables.node).toMatchObject({ type: "query", definition: "label_values(prepull_warm, node)" });
    const queried = dashboard.panels.filter((panel) => panel.type !== "row");
    expect(queried.length).toBeGreaterThanOrEqual(30);
    for (const panel of queried) {
      expect(panel.datasource?.uid, panel.title).toBe("${datasource}");
      expect(panel.description, panel.title).toBeTruthy();
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource.uid, panel.title).toBe("${datasource}");
        // Per-node series follow the node picker; fleet-wide sums and counts read every node.
        if (/\{\{\s*node\s*\}\}/.test(target.legendFormat ?? ""))
          expect(target.expr, panel.title).toContain("$node");
      }
    }
  });

  it("lays its panels out on Grafana's 24-column grid without overlaps, with unique ids", async () => {
    const { panels } = await readDashboard();
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    expect(new Set(panels.map((p) => p.title)).size).toBe(panels.length);
    for (const [index, a] of panels.entries()) {
      expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
      for (const b of panels.slice(index + 1)) {
        const apart =
          a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
          b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
          a.gridPos.y + a.gridPos.h <= b.gridPos.y ||
          b.gridPos.y + b.gridPos.h <= a.gridPos.y;
        expect(apart, `"${a.title}" overlaps "${b.title}"`).toBe(true);
      }
    }
  });
});
