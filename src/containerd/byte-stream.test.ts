import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadAnyCodec } from "./any.ts";
import { dataMessage, windowCredit } from "./byte-stream.ts";

describe("the byte stream's messages, packed and read by hand", () => {
  it("packs Data as protobufjs does, for every length a varint spells in one to three bytes", async () => {
    const codec = await loadAnyCodec();
    for (const size of [0, 1, 127, 128, 300, 16_383, 16_384, 32 * 1024]) {
      const chunk = randomBytes(size);
      const packed = dataMessage(chunk);
      expect(packed).toEqual(codec.encode("containerd.types.transfer.Data", { data: chunk }));
      expect(Buffer.from(codec.decode(packed).message.data as Uint8Array)).toEqual(chunk);
    }
  });

  it("reads the credit of a WindowUpdate as protobufjs does, and leaves other messages to the codec", async () => {
    const codec = await loadAnyCodec();
    for (const update of [0, 1, 127, 128, 64 * 1024, 2 ** 31 - 1]) {
      const any = codec.encode("containerd.types.transfer.WindowUpdate", { update });
      expect(windowCredit(any)).toBe(update);
      expect(windowCredit({ ...any, type_url: `types.containerd.io/${any.type_url}` })).toBe(update);
    }
    expect(windowCredit(codec.encode("containerd.types.transfer.Data", { data: Buffer.from("x") }))).toBe(
      undefined,
    );
    const negative = codec.encode("containerd.types.transfer.WindowUpdate", { update: -1 });
    expect(windowCredit(negative)).toBeUndefined();
    expect(codec.decode(negative).message.update).toBe(-1);
  });
});
