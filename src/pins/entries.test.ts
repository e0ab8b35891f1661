import { describe, expect, it } from "vitest";
import { parseReference } from "../reference/index.ts";
import { entryKey, type EntryStatus, type ScheduledEntry } from "../warm/index.ts";
import { optedOutOf, pinEntryOf } from "./entries.ts";

const D = `sha256:${"d".repeat(64)}`;
const ID = `sha256:${"1".repeat(64)}`;

function scheduled(
  image: string,
  digest: string | undefined,
  status: Partial<EntryStatus> = {},
): ScheduledEntry {
  return {
    key: entryKey({ image, digest }),
    target: { image, reference: parseReference(image), digest },
    status: {
      image,
      digest: digest ?? null,
      state: "present",
      imageId: ID,
      size: 1234,
      attempts: 0,
      lastPullSeconds: null,
      errorKind: null,
      message: null,
      nextRetryAt: null,
      registryDigest: null,
      source: null,
      ...status,
    },
  };
}

describe("the agent's pin entries", () => {
  it("names N:T and N@D for a locked entry, and the recorded digest for one without a lock", () => {
    const locked = pinEntryOf(scheduled("ghcr.io/acme/api:v1", D), new Set());
    expect(locked).toEqual({
      image: "ghcr.io/acme/api:v1",
      names: ["ghcr.io/acme/api:v1", `ghcr.io/acme/api@${D}`],
      imageId: ID,
      size: 1234,
      pin: true,
    });
    const trusted = pinEntryOf(scheduled("redis", undefined, { digest: D }), new Set());
    expect(trusted.names).toEqual(["docker.io/library/redis:latest", `docker.io/library/redis@${D}`]);
    const absent = pinEntryOf(
      scheduled("redis", undefined, { state: "pending", imageId: null, size: null, digest: null }),
      new Set(),
    );
    expect(absent).toMatchObject({
      names: ["docker.io/library/redis:latest"],
      imageId: undefined,
      size: undefined,
    });
  });

  it("opts out the entries whose set says pin: false, told apart by image and digest", () => {
    const entry = scheduled("ghcr.io/acme/api:v1", D);
    const optedOut = optedOutOf([
      {
        image: "ghcr.io/acme/api:v1",
        reference: parseReference("ghcr.io/acme/api:v1"),
        digest: D,
        pin: false,
        sources: [],
      },
      { image: "nginx:1", reference: parseReference("nginx:1"), digest: undefined, sources: [] },
    ]);
    expect([...optedOut]).toEqual([entryKey({ image: "ghcr.io/acme/api:v1", digest: D })]);
    expect(pinEntryOf(entry, optedOut).pin).toBe(false);
    expect(pinEntryOf(scheduled("ghcr.io/acme/api:v1", undefined), optedOut).pin).toBe(true);
  });
});
