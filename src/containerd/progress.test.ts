import { describe, expect, it } from "vitest";
import { summariseIngests } from "./progress.ts";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;

describe("summariseIngests", () => {
  const ingests = [
    { ref: `layer-${A}`, offset: 100, total: 400 },
    { ref: `example.com/x@${B}`, offset: 5, total: 0 },
    { ref: `layer-sha256:${"c".repeat(64)}`, offset: 7, total: 9 },
  ];

  it("sums every ingest when no digests are named", () => {
    expect(summariseIngests(ingests)).toEqual({ bytesDone: 112, bytesTotal: 409, activeBlobs: 3 });
  });

  it("keeps the ingests whose key ends with a named digest", () => {
    expect(summariseIngests(ingests, [A, B])).toEqual({ bytesDone: 105, bytesTotal: 400, activeBlobs: 2 });
    expect(summariseIngests([], [A])).toEqual({ bytesDone: 0, bytesTotal: 0, activeBlobs: 0 });
  });
});
