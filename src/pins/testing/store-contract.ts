import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageNamer, ImageRuntime } from "../../warm/index.ts";
import type { PublishedImage } from "../../warm/testing/index.ts";
import { labelFilter, OWNER_LABEL, OWNER_VALUE, PIN_LABEL, PIN_VALUE } from "../labels.ts";
import type { PinRecord, PinStore, PinSupport } from "../port.ts";

/** A record that names the content it points at, as containerd's do. */
type TargetedRecord = PinRecord & { readonly target: { readonly digest: string } };

/** A PinStore to hold to the contract, with the CRI face of the same daemon. */
export interface PinStoreUnderContract<Stored extends TargetedRecord> {
  readonly api: PinStore<Stored>;
  readonly runtime: ImageRuntime;
  /** The adapter's capability probe, asked as for a runtime CRI names `containerd`. */
  probe(): Promise<{
    readonly version: string | undefined;
    readonly pinning: PinSupport;
    readonly progress: PinSupport;
  }>;
  /** containerd 1.7 and later report the pin label through CRI; 1.6 keeps it and ignores it. */
  readonly criHonoursPins: boolean;
  /** Pushes new content under `path:tag` to a registry the runtime pulls from. */
  publish(path: string, tag: string): Promise<PublishedImage>;
  /** warm's namer over the same API (`createImageNamer`), which writes records as CRI does. */
  readonly namer: ImageNamer;
  close(): Promise<void>;
}

const OURS = { [PIN_LABEL]: PIN_VALUE, [OWNER_LABEL]: OWNER_VALUE };

/** CRI learns of label changes from containerd's events, a moment after they are made. */
async function eventually(read: () => Promise<boolean | undefined>, expected: boolean): Promise<unknown> {
  let last: boolean | undefined;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    last = await read();
    if (last === expected) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return last;
}

/**
 * What pins rely on from the PinStore port: a record per name with its labels, label updates
 * that leave other labels alone, label filters, and CRI's `pinned` following the label. Run
 * against the in-memory containerd API (src/containerd/testing) and the containerd client on a
 * real containerd (test/containerd), it keeps the two alike.
 */
export function describePinStoreContract<Stored extends TargetedRecord>(
  name: string,
  start: () => Promise<PinStoreUnderContract<Stored>>,
): void {
  describe(`containerd API contract for pins: ${name}`, () => {
    let subject: PinStoreUnderContract<Stored>;
    let api: PinStore<Stored>;
    beforeAll(async () => {
      subject = await start();
      api = subject.api;
    });
    afterAll(async () => {
      await subject.close();
    });

    /** Publishes and pulls `path:v1`; returns the image and the names CRI reports for it. */
    async function pulled(path: string): Promise<{ image: PublishedImage; names: string[] }> {
      const image = await subject.publish(path, "v1");
      await subject.runtime.pullImage(image.reference);
      return { image, names: [image.reference, `${image.repository}@${image.digest}`] };
    }

    const criPinned = async (image: PublishedImage): Promise<boolean | undefined> =>
      (await subject.runtime.listImages()).find((listed) => listed.id === image.configDigest)?.pinned;

    it("is probed as containerd, with pinning where CRI honours the pin label", async () => {
      const capabilities = await subject.probe();
      expect(capabilities.version).toMatch(/^v?\d+\.\d+/);
      expect(capabilities.pinning.available).toBe(subject.criHonoursPins);
      expect(capabilities.progress.available).toBe(true);
    });

    it("keeps a record per name CRI reports and one under the image id, each pointing at the manifest", async () => {
      const { image, names } = await pulled("pin-contract/records");
      for (const recordName of [...names, image.configDigest]) {
        const record = await api.getImage(recordName);
        expect(record?.name, recordName).toBe(recordName);
        expect(record?.target.digest, recordName).toBe(image.digest);
      }
      expect(await api.getImage(`${image.repository}:absent`)).toBeUndefined();
    });

    it("sets and removes only the labels named, and lists records by label", async () => {
      const { names } = await pulled("pin-contract/labels");
      const [tagName = "", digestName = ""] = names;
      const record = await api.getImage(tagName);
      if (record === undefined) throw new Error(`${tagName} has no record`);
      const before = record.labels;
      const pinned = await api.updateImageLabels(record, OURS);
      expect(pinned.labels).toEqual({ ...before, ...OURS });
      expect((await api.getImage(tagName))?.labels).toEqual({ ...before, ...OURS });

      const named = async (filter: string): Promise<string[]> =>
        (await api.listImages([filter])).map((found) => found.name).filter((found) => names.includes(found));
      expect(await named(labelFilter(PIN_LABEL))).toEqual([tagName]);
      expect(await named(labelFilter(PIN_LABEL, "elsewhere"))).toEqual([]);
      const either = await api.listImages([labelFilter(OWNER_LABEL, OWNER_VALUE), labelFilter(PIN_LABEL)]);
      expect(either.filter((found) => found.name === tagName)).toHaveLength(1);

      const unpinned = await api.updateImageLabels(pinned, { [PIN_LABEL]: "" });
      expect(unpinned.labels).toEqual({ ...before, [OWNER_LABEL]: OWNER_VALUE });
      expect(await named(labelFilter(PIN_LABEL))).toEqual([]);
      expect((await api.getImage(digestName))?.labels).not.toHaveProperty(OWNER_LABEL);
    });

    it("has CRI report the image pinned once one of its records carries the pin label", async () => {
      const { image, names } = await pulled("pin-contract/cri-pinned");
      expect(await criPinned(image)).toBe(false);
      const record = await api.getImage(names[1] ?? "");
      if (record === undefined) throw new Error(`${names[1] ?? ""} has no record`);
      await api.updateImageLabels(record, OURS);
      expect(await eventually(() => criPinned(image), subject.criHonoursPins)).toBe(subject.criHonoursPins);
      await api.updateImageLabels(record, { [PIN_LABEL]: "", [OWNER_LABEL]: "" });
      expect(await eventually(() => criPinned(image), false)).toBe(false);
    });

    it("writes the record of a name pulled again without its labels; the image's other records keep theirs", async () => {
      const { image, names } = await pulled("pin-contract/re-pulled");
      const recordNames = [...names, image.configDigest];
      for (const recordName of recordNames) {
        const record = await api.getImage(recordName);
        if (record !== undefined) await api.updateImageLabels(record, OURS);
      }
      await subject.runtime.pullImage(image.reference);
      const [tagName = "", ...kept] = recordNames;
      expect((await api.getImage(tagName))?.labels).not.toHaveProperty(PIN_LABEL);
      for (const recordName of kept) {
        expect((await api.getImage(recordName))?.labels, recordName).toMatchObject(OURS);
      }
    });

    it("names a tag after a digest's record without a pull: CRI finds it on that image a moment later, and a moved tag follows keeping its labels", async () => {
      const first = await subject.publish("pin-contract/named", "v1");
      const digestOf = (image: PublishedImage): string => `${image.repository}@${image.digest}`;
      await subject.runtime.pullImage(digestOf(first));
      expect(await subject.runtime.imageStatus(first.reference)).toBeUndefined();
      await subject.namer.tagImage(first.reference, digestOf(first));
      const tagged = async (image: PublishedImage): Promise<boolean> =>
        (await subject.runtime.imageStatus(first.reference))?.id === image.configDigest;
      expect(await eventually(() => tagged(first), true)).toBe(true);
      const listed = (await subject.runtime.listImages()).filter((found) => found.id === first.configDigest);
      expect(listed).toMatchObject([{ repoTags: [first.reference], repoDigests: [digestOf(first)] }]);
      const record = await api.getImage(first.reference);
      expect(record?.target.digest).toBe(first.digest);
      expect(record?.labels).toMatchObject({ "io.cri-containerd.image": "managed" });

      if (record === undefined) throw new Error(`${first.reference} has no record`);
      await api.updateImageLabels(record, OURS);
      const second = await subject.publish("pin-contract/named", "v1");
      await subject.runtime.pullImage(digestOf(second));
      await subject.namer.tagImage(first.reference, digestOf(second));
      expect(await eventually(() => tagged(second), true)).toBe(true);
      expect((await api.getImage(first.reference))?.labels).toMatchObject(OURS);
      expect(await subject.runtime.imageStatus(digestOf(first))).toMatchObject({
        id: first.configDigest,
        repoTags: [],
      });
      await expect(
        subject.namer.tagImage(`${first.repository}:v2`, `${first.repository}@sha256:${"0".repeat(64)}`),
      ).rejects.toMatchObject({ kind: "not_found" });
      expect(await api.getImage(`${first.repository}:v2`)).toBeUndefined();
    });

    it("fails to update a record whose name is gone as not_found", async () => {
      const { image } = await pulled("pin-contract/gone");
      const record = await api.getImage(image.reference);
      if (record === undefined) throw new Error(`${image.reference} has no record`);
      await subject.runtime.removeImage(image.reference);
      await expect(api.updateImageLabels(record, OURS)).rejects.toMatchObject({ kind: "not_found" });
    });
  });
}
