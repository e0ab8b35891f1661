import { describe, expect, it } from "vitest";
import { BoundedCache } from "./bounded-cache.ts";

describe("BoundedCache", () => {
  it("forgets an entry when its lifetime is over", () => {
    let now = 1_000;
    const cache = new BoundedCache<string, string>({ maxEntries: 10, now: () => now });
    cache.set("token", "abc", { ttlMs: 500 });
    now += 499;
    expect(cache.get("token")).toBe("abc");
    now += 1;
    expect(cache.get("token")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("evicts the least recently used entry beyond its size bound", () => {
    const cache = new BoundedCache<number, number>({ maxEntries: 3 });
    for (const key of [1, 2, 3]) cache.set(key, key);
    expect(cache.get(1)).toBe(1);
    cache.set(4, 4);
    expect(cache.size).toBe(3);
    expect(cache.get(2)).toBeUndefined();
    expect([1, 3, 4].map((key) => cache.get(key))).toEqual([1, 3, 4]);
  });

  it("keeps the total weight under its budget and refuses entries heavier than it", () => {
    const cache = new BoundedCache<string, string>({ maxEntries: 100, maxWeight: 10 });
    cache.set("a", "a", { weight: 4 });
    cache.set("b", "b", { weight: 4 });
    cache.set("c", "c", { weight: 4 });
    expect(cache.get("a")).toBeUndefined();
    expect(cache.get("b")).toBe("b");
    cache.set("huge", "x", { weight: 11 });
    expect(cache.get("huge")).toBeUndefined();
    expect(cache.get("c")).toBe("c");
  });

  it("stays bounded under many distinct keys", () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 50 });
    for (let i = 0; i < 10_000; i += 1) cache.set(`key-${i}`, i, { ttlMs: 60_000 });
    expect(cache.size).toBe(50);
    expect(cache.get("key-9999")).toBe(9999);
  });
});
