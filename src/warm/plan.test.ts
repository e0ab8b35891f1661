import { describe, expect, it } from "vitest";
import type { RuntimeImage } from "./ports.ts";
import { parseReference } from "../reference/index.ts";
import { ImageInventory } from "./inventory.ts";
import { planEntry, type WarmTarget } from "./plan.ts";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;

function image(repoTags: string[], repoDigests: string[]): RuntimeImage {
  return { id: `sha256:${"c".repeat(64)}`, repoTags, repoDigests, size: 10, pinned: false };
}

function target(text: string, digest?: string): WarmTarget {
  const reference = parseReference(text);
  return { image: text, reference, digest: digest ?? reference.digest };
}

describe("planEntry", () => {
  it("pulls the digest and then syncs the tag when nothing is present", () => {
    const plan = planEntry(target(`ghcr.io/acme/api:v1@${D1}`), new ImageInventory([]));
    expect(plan.actions).toEqual([
      { type: "pull-digest", image: `ghcr.io/acme/api@${D1}` },
      { type: "sync-tag", image: "ghcr.io/acme/api:v1", digest: D1 },
    ]);
  });

  it("only syncs the tag when the digest is present but the tag is not", () => {
    const inventory = new ImageInventory([image([], [`ghcr.io/acme/api@${D1}`])]);
    const plan = planEntry(target("ghcr.io/acme/api:v1", D1), inventory);
    expect(plan.actions).toEqual([{ type: "sync-tag", image: "ghcr.io/acme/api:v1", digest: D1 }]);
    expect(plan.localDigest).toBe(D1);
  });

  it("syncs the tag when it points at another digest locally", () => {
    const inventory = new ImageInventory([
      image([], [`ghcr.io/acme/api@${D1}`]),
      image(["ghcr.io/acme/api:v1"], [`ghcr.io/acme/api@${D2}`]),
    ]);
    expect(planEntry(target("ghcr.io/acme/api:v1", D1), inventory).actions).toEqual([
      { type: "sync-tag", image: "ghcr.io/acme/api:v1", digest: D1 },
    ]);
  });

  it("does nothing when the tag resolves to the intended digest", () => {
    const inventory = new ImageInventory([image(["ghcr.io/acme/api:v1"], [`ghcr.io/acme/api@${D1}`])]);
    expect(planEntry(target("ghcr.io/acme/api:v1", D1), inventory).actions).toEqual([]);
  });

  it("needs only the digest for a digest-only entry", () => {
    expect(planEntry(target(`redis@${D1}`), new ImageInventory([])).actions).toEqual([
      { type: "pull-digest", image: `docker.io/library/redis@${D1}` },
    ]);
    const present = new ImageInventory([image([], [`docker.io/library/redis@${D1}`])]);
    expect(planEntry(target(`redis@${D1}`), present).actions).toEqual([]);
  });

  it("pulls the tag on trust when no digest is known, using latest when the pod names no tag", () => {
    expect(planEntry(target("nginx"), new ImageInventory([])).actions).toEqual([
      { type: "pull-tag", image: "docker.io/library/nginx:latest" },
    ]);
    const present = new ImageInventory([
      image(["docker.io/library/nginx:latest"], [`docker.io/library/nginx@${D2}`]),
    ]);
    const plan = planEntry(target("nginx"), present);
    expect(plan.actions).toEqual([]);
    expect(plan.localDigest).toBe(D2);
  });

  it("keys names by registry host, as the runtime does", () => {
    const inventory = new ImageInventory([image(["localhost:5000/x:1"], [`localhost:5000/x@${D1}`])]);
    expect(planEntry(target("127.0.0.1:5000/x:1", D1), inventory).actions).toHaveLength(2);
  });
});
