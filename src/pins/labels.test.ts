import { describe, expect, it } from "vitest";
import { labelFilter, OWNER_LABEL, PIN_LABEL, recordPin } from "./labels.ts";

describe("recordPin", () => {
  it("tells prepull's pins from everyone else's", () => {
    expect(recordPin({ [PIN_LABEL]: "pinned", [OWNER_LABEL]: "true" })).toBe("ours");
    expect(recordPin({ [PIN_LABEL]: "pinned" })).toBe("others");
    expect(recordPin({ [OWNER_LABEL]: "true" })).toBe("stale");
    expect(recordPin({ "io.cri-containerd.image": "managed" })).toBe("none");
  });

  it("counts only the values containerd and prepull write", () => {
    expect(recordPin({ [PIN_LABEL]: "true" })).toBe("none");
    expect(recordPin({ [PIN_LABEL]: "pinned", [OWNER_LABEL]: "yes" })).toBe("others");
  });
});

describe("labelFilter", () => {
  it("quotes label keys, which hold dots and slashes the filter grammar only accepts quoted", () => {
    expect(labelFilter(PIN_LABEL)).toBe('labels."io.cri-containerd.pinned"');
    expect(labelFilter(OWNER_LABEL, "true")).toBe('labels."prepull.dev/pinned"=="true"');
  });
});
