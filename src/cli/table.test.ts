import { describe, expect, it } from "vitest";
import { elide, formatTable, shortDigest, TABLE_WIDTH } from "./table.ts";

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

describe("formatTable", () => {
  const rows = [
    [
      `registry.example.com:5000/platform/team/a-very-long-service-name/with/many/levels:v1.2.3-rc.4`,
      "present",
      DIGEST,
    ],
    ["nginx:1.27", "missing", "-"],
  ];

  it("fits the given width by eliding the middle of the widest column", () => {
    const text = formatTable(["IMAGE", "STATE", "DIGEST"], rows, { maxWidth: 80 });
    for (const line of text.trimEnd().split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    expect(text).toContain("registry.example.");
    expect(text).toContain(":v1.2.3-rc.4");
    expect(text).toContain("…");
    expect(text).toContain("nginx:1.27");
  });

  it("prints every value whole without a width (-o wide)", () => {
    const text = formatTable(["IMAGE", "STATE", "DIGEST"], rows);
    expect(text).toContain(rows[0]?.[0]);
    expect(text).toContain(DIGEST);
    expect(text.split("\n")[1]?.length).toBeGreaterThan(TABLE_WIDTH);
  });

  it("never shortens a column below what still says something", () => {
    const text = formatTable(["A", "B"], [["x".repeat(50), "y".repeat(50)]], { maxWidth: 10 });
    expect(text.split("\n")[1]?.length).toBe(12 + 2 + 12);
  });
});

describe("elide and shortDigest", () => {
  it("keep both ends", () => {
    expect(elide("ghcr.io/acme/platform/api:v1", 15)).toBe("ghcr.io…/api:v1");
    expect(elide("short", 10)).toBe("short");
    expect(shortDigest(DIGEST)).toBe("sha256:0123456789ab");
    expect(shortDigest(undefined)).toBe("-");
  });
});
