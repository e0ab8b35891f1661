import { describe, expect, it } from "vitest";
import { InputError } from "../failure/index.ts";
import { MemoryRegistry } from "../warm/testing/index.ts";
import { checkLockPlan, lockSetFiles, planLock, resolveTags, type SetFile } from "./index.ts";

const OLD = `sha256:${"1".repeat(64)}`;

function setFile(file: string, images: string[]): SetFile {
  const text = [
    `# ${file}: comments stay`,
    "apiVersion: prepull/v1",
    "kind: ImageSet",
    `metadata: {name: ${file.replace(".yaml", "")}}`,
    "spec:",
    "  images:",
    ...images.map((image) => `    - ${image}`),
    "",
  ].join("\n");
  return { file, text };
}

/** A registry holding team/api:v1 and team/web:v2, and two sets over them. */
function fixture() {
  const registry = new MemoryRegistry();
  const api = registry.publish("team/api", "v1");
  const web = registry.publish("team/web", "v2");
  const sets = [
    setFile("api.yaml", [api.reference, `{ image: ${registry.host}/team/old:1, digest: ${OLD} }`]),
    setFile("web.yaml", [`{ image: ${web.reference}, digest: ${OLD} }`, `${registry.host}/team/db@${OLD}`]),
  ];
  return { registry, api, web, sets };
}

const images = (entries: ReadonlyArray<{ image: string }>): string[] => entries.map((e) => e.image);

describe("planLock", () => {
  it("asks about the unlocked entries; an update adds locked ones, a check asks about those alone", () => {
    const { registry, api, web, sets } = fixture();
    const old = `${registry.host}/team/old:1`;
    const plain = planLock(sets, { path: "sets" });
    expect(images(plain.unlocked)).toEqual([api.reference]);
    // The entry pinned in its own string carries no tag: nothing to check it against.
    expect(images(plain.locked)).toEqual([old, web.reference]);
    expect(images(plain.asked)).toEqual([api.reference]);

    const update = planLock(sets, { path: "sets", update: true });
    expect(images(update.updating)).toEqual([old, web.reference]);
    expect(images(update.asked)).toEqual([api.reference, old, web.reference]);
    // An image without a tag names every tag of its repository.
    const named = planLock(sets, { path: "sets", update: true, images: [`${registry.host}/team/web`] });
    expect(images(named.updating)).toEqual([web.reference]);
    expect(images(named.asked)).toEqual([api.reference, web.reference]);

    expect(images(planLock(sets, { path: "sets", check: true }).asked)).toEqual([old, web.reference]);
  });

  it("refuses an update naming no entry, or an image whose digest is its own string", () => {
    const { registry, sets } = fixture();
    expect(() => planLock(sets, { path: "sets", update: true, images: ["nginx:1"] })).toThrow(
      "nginx:1: no entry of sets names this image",
    );
    const pinned = `${registry.host}/team/db@${OLD}`;
    const update = (): unknown => planLock(sets, { path: "sets", update: true, images: [pinned] });
    expect(update).toThrow(InputError);
    expect(update).toThrow("the digest is part of the image string pods use");
  });
});

describe("resolveTags", () => {
  it("asks for each entry's tag, never its locked digest, and keeps each failure with its kind", async () => {
    const { registry, api, web, sets } = fixture();
    const asked: string[] = [];
    const plan = planLock(sets, { path: "sets", update: true });
    const { resolved, failures } = await resolveTags(
      plan.asked,
      (reference) => {
        asked.push(`${reference.path}:${String(reference.tag)}@${String(reference.digest)}`);
        return registry.resolveTag(reference);
      },
      2,
    );
    expect(asked.sort()).toEqual(["team/api:v1@undefined", "team/old:1@undefined", "team/web:v2@undefined"]);
    expect(resolved).toEqual(
      new Map([
        [api.reference, api.digest],
        [web.reference, web.digest],
      ]),
    );
    expect(failures).toEqual([
      {
        image: `${registry.host}/team/old:1`,
        kind: "not_found",
        message: `${registry.host}/team/old: manifest unknown`,
      },
    ]);
  });

  it("counts an unclassified failure as the network's", async () => {
    const { sets } = fixture();
    const plan = planLock(sets, { path: "sets" });
    const { failures } = await resolveTags(plan.asked, () => Promise.reject(new Error("socket hang up")), 4);
    expect(failures).toEqual([{ image: plan.asked[0]?.image, kind: "network", message: "socket hang up" }]);
  });
});

describe("checkLockPlan", () => {
  it("reports moved tags, and unlocked entries unless they are allowed", async () => {
    const { registry, web, api, sets } = fixture();
    const plan = planLock(sets, { path: "sets", check: true });
    const { resolved } = await resolveTags(plan.asked, registry.resolveTag, 4);
    const strict = checkLockPlan(plan, resolved);
    expect(strict.drift).toEqual([{ image: web.reference, locked: OLD, current: web.digest }]);
    expect(strict.unlocked).toEqual([api.reference]);
    expect(strict.passed).toBe(false);
    expect(checkLockPlan(plan, resolved, { allowUnlocked: true }).unlocked).toEqual([]);
  });
});

describe("lockSetFiles", () => {
  it("writes what was resolved: the unlocked entries, and the updated ones over their old digest", async () => {
    const { registry, api, web, sets } = fixture();
    const plan = planLock(sets, { path: "sets", update: true, images: [web.reference] });
    const { resolved } = await resolveTags(plan.asked, registry.resolveTag, 4);
    const { files, written } = lockSetFiles(sets, plan, resolved);
    expect(written).toEqual([
      { file: "api.yaml", image: api.reference, digest: api.digest },
      { file: "web.yaml", image: web.reference, digest: web.digest, previous: OLD },
    ]);
    expect(files.map((f) => [f.file, f.edited])).toEqual([
      ["api.yaml", true],
      ["web.yaml", true],
    ]);
    expect(files[0]?.text).toContain(`    - image: ${api.reference}\n      digest: ${api.digest}\n`);
    expect(files[0]?.text).toMatch(/^# api.yaml: comments stay\n/);
    expect(files[1]?.text).toContain(`{ image: ${web.reference}, digest: ${web.digest} }`);

    // Without the update, the locked entry keeps its digest, and a file with nothing to lock is left as it is.
    const again = lockSetFiles(
      [sets[1] as SetFile],
      planLock([sets[1] as SetFile], { path: "web.yaml" }),
      resolved,
    );
    expect(again.written).toEqual([]);
    expect(again.files).toEqual([{ ...sets[1], edited: false }]);
  });
});
