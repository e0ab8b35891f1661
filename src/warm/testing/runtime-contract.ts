import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isClassifiedError } from "../../failure/index.ts";
import type { ImageRuntime } from "../ports.ts";
import type { PublishedImage } from "./memory-registry.ts";

/** A runtime to hold to the contract, with a registry it pulls from. */
export interface RuntimeUnderContract {
  readonly runtime: ImageRuntime;
  /** The host of the registry `publish` pushes to. */
  readonly registryHost: string;
  /** Pushes new content under `path:tag` (`path` as in `team/api`), moving the tag if it exists. */
  publish(path: string, tag: string): Promise<PublishedImage>;
  close(): Promise<void>;
}

/**
 * What warm relies on from an `ImageRuntime`, as containerd 2.x answers through CRI. Run against
 * the in-memory runtime (a unit test beside it) and the CRI client on a real containerd (under
 * test/), it keeps the two alike. Each test pushes images of its own.
 */
export function describeImageRuntimeContract(name: string, start: () => Promise<RuntimeUnderContract>): void {
  describe(`ImageRuntime contract: ${name}`, () => {
    let subject: RuntimeUnderContract;
    let runtime: ImageRuntime;
    beforeAll(async () => {
      subject = await start();
      runtime = subject.runtime;
    });
    afterAll(async () => {
      await subject.close();
    });

    const digestName = (image: PublishedImage): string => `${image.repository}@${image.digest}`;

    it("is containerd speaking CRI v1", async () => {
      const version = await runtime.version();
      expect(version.runtimeName).toBe("containerd");
      expect(version.runtimeApiVersion).toBe("v1");
    });

    it("records a pull by tag under the tag and the digest, and returns the image id", async () => {
      const image = await subject.publish("contract/by-tag", "v1");
      expect(await runtime.pullImage(image.reference)).toBe(image.configDigest);
      const status = await runtime.imageStatus(image.reference);
      expect(status).toMatchObject({
        id: image.configDigest,
        repoTags: [image.reference],
        repoDigests: [digestName(image)],
        pinned: false,
      });
      expect(status?.size).toBeGreaterThan(0);
    });

    it("records a pull by digest under the digest alone: the tag does not resolve", async () => {
      const image = await subject.publish("contract/by-digest", "v1");
      expect(await runtime.pullImage(digestName(image))).toBe(image.configDigest);
      const status = await runtime.imageStatus(digestName(image));
      expect(status).toMatchObject({
        id: image.configDigest,
        repoTags: [],
        repoDigests: [digestName(image)],
      });
      expect(await runtime.imageStatus(image.reference)).toBeUndefined();
    });

    it("drops the tag of a pull by name:tag@digest", async () => {
      const image = await subject.publish("contract/both", "v1");
      await runtime.pullImage(`${image.reference}@${image.digest}`);
      expect((await runtime.imageStatus(digestName(image)))?.repoTags).toEqual([]);
      expect(await runtime.imageStatus(image.reference)).toBeUndefined();
      // ImageStatus drops it too, as kubelet's lookup of such a string relies on.
      expect((await runtime.imageStatus(`${image.reference}@${image.digest}`))?.id).toBe(image.configDigest);
    });

    it("adds the tag to the image a later pull of the tag finds, keeping one image", async () => {
      const image = await subject.publish("contract/tag-after-digest", "v1");
      await runtime.pullImage(digestName(image));
      await runtime.pullImage(image.reference);
      const status = await runtime.imageStatus(digestName(image));
      expect(status).toMatchObject({ repoTags: [image.reference], repoDigests: [digestName(image)] });
      expect((await runtime.listImages()).filter((listed) => listed.id === image.configDigest)).toHaveLength(
        1,
      );
    });

    it("finds an image by each of its names and its id, and nothing under a name it does not hold", async () => {
      const image = await subject.publish("contract/names", "v1");
      await runtime.pullImage(image.reference);
      for (const lookup of [image.reference, digestName(image), image.configDigest]) {
        expect((await runtime.imageStatus(lookup))?.id, lookup).toBe(image.configDigest);
      }
      expect(await runtime.imageStatus(`${image.repository}:absent`)).toBeUndefined();
      expect(await runtime.imageStatus(`${subject.registryHost}/contract/never-pulled:v1`)).toBeUndefined();
    });

    it("lists each image once, with the names and size ImageStatus reports", async () => {
      const image = await subject.publish("contract/listed", "v1");
      await runtime.pullImage(image.reference);
      const listed = (await runtime.listImages()).filter((entry) => entry.id === image.configDigest);
      expect(listed).toEqual([await runtime.imageStatus(image.reference)]);
    });

    it("moves a tag to the new image when a moved tag is pulled; the old image keeps its digest", async () => {
      const first = await subject.publish("contract/moved", "v1");
      await runtime.pullImage(first.reference);
      const second = await subject.publish("contract/moved", "v1");
      expect(await runtime.pullImage(second.reference)).toBe(second.configDigest);
      expect((await runtime.imageStatus(second.reference))?.id).toBe(second.configDigest);
      expect(await runtime.imageStatus(digestName(first))).toMatchObject({
        id: first.configDigest,
        repoTags: [],
        repoDigests: [digestName(first)],
      });
    });

    it("removes every name of an image removed by one of them, and removes an absent image quietly", async () => {
      const image = await subject.publish("contract/removed", "v1");
      await runtime.pullImage(image.reference);
      await runtime.removeImage(image.reference);
      for (const lookup of [image.reference, digestName(image), image.configDigest]) {
        expect(await runtime.imageStatus(lookup), lookup).toBeUndefined();
      }
      await expect(runtime.removeImage(image.reference)).resolves.toBeUndefined();
      await runtime.pullImage(digestName(image));
      await runtime.removeImage(image.configDigest);
      expect(await runtime.imageStatus(digestName(image))).toBeUndefined();
    });

    it("fails a pull of a tag the registry does not have as not_found, naming the image", async () => {
      const missing = `${subject.registryHost}/contract/absent:v1`;
      const error: unknown = await runtime.pullImage(missing).then(
        () => new Error("the pull succeeded"),
        (failure: unknown) => failure,
      );
      expect(isClassifiedError(error) ? error.kind : error).toBe("not_found");
      expect((error as Error).message).toContain(missing);
      expect(await runtime.imageStatus(missing)).toBeUndefined();
    });

    it("rejects a cancelled pull with the cancel's reason and records nothing", async () => {
      const image = await subject.publish("contract/cancelled", "v1");
      const reason = new Error("the entry left the desired set");
      await expect(runtime.pullImage(image.reference, { signal: AbortSignal.abort(reason) })).rejects.toBe(
        reason,
      );
      expect(await runtime.imageStatus(image.reference)).toBeUndefined();
    });

    it("names its image filesystem and how much of it is used", async () => {
      const [filesystem] = await runtime.imageFsInfo();
      expect(filesystem?.mountpoint).not.toBe("");
      expect(filesystem?.usedBytes).toBeGreaterThanOrEqual(0);
    });
  });
}
