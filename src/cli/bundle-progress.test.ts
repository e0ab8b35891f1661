import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { BundleProgress } from "../bundle/index.ts";
import { progressPrinter, progressText } from "./bundle-progress.ts";

const blobs: BundleProgress = {
  phase: "blobs",
  entriesDone: 2,
  entries: 2,
  blobsDone: 3,
  blobs: 9,
  bytesDone: 1_500_000,
  bytes: 20_000_000,
};

function stream(tty: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const out: PassThrough & { isTTY?: boolean } = new PassThrough();
  out.isTTY = tty;
  const chunks: string[] = [];
  out.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
  return { stream: out, text: () => chunks.join("") };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("bundle progress", () => {
  it("says what is done of what", () => {
    expect(progressText({ ...blobs, phase: "manifests", entriesDone: 1 })).toBe(
      "bundle: manifests of 1/2 entries",
    );
    expect(progressText(blobs)).toBe("bundle: 3/9 blobs, 1.5 MB of 20.0 MB");
    expect(progressText({ ...blobs, phase: "archive" })).toBe(
      "bundle: writing the archive, 1.5 MB of 20.0 MB",
    );
  });

  it("redraws one line on a terminal and clears it at the end", async () => {
    const { stream: out, text } = stream(true);
    const printer = progressPrinter(out);
    printer.update(blobs);
    await vi.advanceTimersByTimeAsync(250);
    printer.update({ ...blobs, blobsDone: 4 });
    await vi.advanceTimersByTimeAsync(250);
    printer.stop();
    expect(text()).toBe(
      "\r\x1b[2Kbundle: 3/9 blobs, 1.5 MB of 20.0 MB\r\x1b[2Kbundle: 4/9 blobs, 1.5 MB of 20.0 MB\r\x1b[2K",
    );
  });

  it("writes a line every few seconds elsewhere, and only when something moved", async () => {
    const { stream: out, text } = stream(false);
    const printer = progressPrinter(out);
    printer.update(blobs);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(text()).toBe("");
    await vi.advanceTimersByTimeAsync(14_000);
    printer.stop();
    expect(text()).toBe("bundle: 3/9 blobs, 1.5 MB of 20.0 MB\n");
  });
});
