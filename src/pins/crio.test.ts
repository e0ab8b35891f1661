import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import type { ImageSetEntry } from "../imageset/index.ts";
import { parseReference } from "../reference/index.ts";
import { crioPinnedImages, crioPinsDropIn } from "./crio.ts";

const D = `sha256:${"e".repeat(64)}`;

function entry(image: string, digest?: string): Pick<ImageSetEntry, "reference" | "digest"> {
  const reference = parseReference(image);
  return { reference, digest: digest ?? reference.digest };
}

describe("crio-pins", () => {
  it("lists the exact names pods use, each once, in set order", () => {
    const names = crioPinnedImages([
      entry("redis:7", D),
      entry(`docker.io/library/redis@${D}`),
      entry("ghcr.io/a/b"),
    ]);
    expect(names).toEqual([
      "docker.io/library/redis:7",
      `docker.io/library/redis@${D}`,
      "ghcr.io/a/b:latest",
    ]);
  });

  it("writes a drop-in CRI-O reads as [crio.image] pinned_images", () => {
    const text = crioPinsDropIn(["ghcr.io/a/b:v1", `ghcr.io/a/b@${D}`], ["web-tier"]);
    expect(text).toMatch(/^# Written by prepull crio-pins from ImageSet\(s\) web-tier\./);
    expect(parse(text)).toEqual({
      crio: { image: { pinned_images: ["ghcr.io/a/b:v1", `ghcr.io/a/b@${D}`] } },
    });
  });
});
