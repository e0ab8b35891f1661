import { describe, expect, it } from "vitest";
import { parseReference } from "../reference/index.ts";
import { MemoryRegistry } from "../warm/testing/index.ts";
import { digestsFromEntries, pinSources, resolveImageDigests, scanManifests } from "./index.ts";

const LOCKED = `sha256:${"a".repeat(64)}`;

/** A pod whose containers run `images`, one line each, with a comment pinning must keep. */
const pod = (...images: string[]): string =>
  "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n" +
  images.map((image, index) => `    - name: c${String(index)}\n      image: ${image} # kept\n`).join("");

describe("digestsFromEntries", () => {
  it("finds an image by its exact string, else by the tag the runtime resolves", () => {
    const entry = (image: string, digest: string | undefined) => ({
      image,
      reference: parseReference(image),
      digest,
    });
    const digestOf = digestsFromEntries([
      entry("nginx", LOCKED),
      entry("registry.test/team/api:v1", undefined),
    ]);
    expect(digestOf("nginx", parseReference("nginx"))).toBe(LOCKED);
    expect(digestOf("docker.io/library/nginx:latest", parseReference("docker.io/library/nginx:latest"))).toBe(
      LOCKED,
    );
    expect(digestOf("nginx:1", parseReference("nginx:1"))).toBeUndefined();
    expect(
      digestOf("registry.test/team/api:v1", parseReference("registry.test/team/api:v1")),
    ).toBeUndefined();
  });
});

describe("resolveImageDigests", () => {
  it("asks the registry about each image without a digest once, and keeps each failure", async () => {
    const registry = new MemoryRegistry();
    const api = registry.publish("team/api", "v1");
    const latest = registry.publish("team/web", "latest");
    const missing = `${registry.host}/team/gone:1`;
    const pinned = `${registry.host}/team/db:1@${LOCKED}`;
    const { images } = scanManifests([
      {
        name: "pod.yaml",
        text: pod(api.reference, api.reference, `${registry.host}/team/web`, missing, pinned),
      },
    ]);
    const asked: string[] = [];
    const { digestOf, failures } = await resolveImageDigests(images, (reference) => {
      asked.push(`${reference.path}:${String(reference.tag)}`);
      return registry.resolveTag(reference);
    });
    expect(asked.sort()).toEqual(["team/api:v1", "team/gone:1", "team/web:latest"]);
    expect(digestOf(api.reference, parseReference(api.reference))).toBe(api.digest);
    const web = `${registry.host}/team/web`;
    expect(digestOf(web, parseReference(web))).toBe(latest.digest);
    expect(digestOf(missing, parseReference(missing))).toBeUndefined();
    expect(failures).toEqual([
      { image: missing, kind: "not_found", message: `${registry.host}/team/gone: manifest unknown` },
    ]);
    const unclassified = await resolveImageDigests(images.slice(0, 1), () =>
      Promise.reject(new Error("boom")),
    );
    expect(unclassified.failures).toEqual([{ image: api.reference, kind: undefined, message: "boom" }]);
  });
});

describe("pinSources", () => {
  it("pins every source's images it knows a digest for, in order, and says why it left the others", () => {
    const sources = [
      { name: "a.yaml", text: pod("nginx:1", "redis:7") },
      { name: "b.yaml", text: pod("nginx:1") },
    ];
    const { images } = scanManifests(sources);
    const pinned = pinSources(sources, images, (image) => (image === "nginx:1" ? LOCKED : undefined));
    expect(pinned.map(({ source }) => source.name)).toEqual(["a.yaml", "b.yaml"]);
    expect(pinned[0]?.result.text).toBe(pod(`nginx:1@${LOCKED}`, "redis:7"));
    expect(pinned[0]?.result.skipped).toEqual([
      { line: 9, image: "redis:7", reason: "no digest known for it" },
    ]);
    expect(pinned[1]?.result.changes).toEqual([{ line: 7, from: "nginx:1", to: `nginx:1@${LOCKED}` }]);
  });
});
