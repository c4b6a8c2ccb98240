import { describe, expect, it } from "vitest";
import { clusterSlot } from "./cluster-slot.ts";
import { counterKey, KEY_PREFIX, slotKey, slotTtlMs } from "./counter-key.ts";

const KEY_SHAPE = /^sluice:\{[A-Za-z0-9_-]{22}\}$/;

describe("counterKey", () => {
  it("is a prefixed hash tag of fixed length", () => {
    const key = counterKey('["api",["path","/v1/orders"]]');
    expect(key).toMatch(KEY_SHAPE);
    expect(key.startsWith(KEY_PREFIX)).toBe(true);
  });

  it("is deterministic", () => {
    expect(counterKey("a")).toBe(counterKey("a"));
  });

  it("gives different ids different keys, including near-identical ones", () => {
    const ids = ["", "a", "b", "ab", "a ", '["d",["k","v"]]', '["d",["k","v "]]', '["d",["k ","v"]]'];
    for (let n = 0; n < 1000; n++) ids.push(`id-${n}`);
    const keys = new Set(ids.map(counterKey));
    expect(keys.size).toBe(ids.length);
  });

  it("tells lone surrogates apart from the replacement character", () => {
    // UTF-8 would encode all three as EF BF BD and collide.
    const ids = ["\uD800", "\uDC00", "\uFFFD"];
    expect(new Set(ids.map(counterKey)).size).toBe(3);
  });

  it("stays bounded for a 1 MB id and hides its content", () => {
    const id = `secret-${"x".repeat(1024 * 1024)}`;
    const key = counterKey(id);
    expect(key).toMatch(KEY_SHAPE);
    expect(key.length).toBe(KEY_PREFIX.length + 24);
    expect(key).not.toContain("secret");
  });

  it("hashes any bytes, including NUL, newlines and braces", () => {
    const ids = ["a\u0000b", "a\nb", "{a}", "}{", "a\r\nb"];
    for (const id of ids) expect(counterKey(id)).toMatch(KEY_SHAPE);
    expect(new Set(ids.map(counterKey)).size).toBe(ids.length);
  });
});

describe("slotKey", () => {
  it("appends window length and slot number and keeps the hash slot", () => {
    const base = counterKey("x");
    expect(slotKey(base, 60_000, 29_000_123)).toBe(`${base}:60000:29000123`);
    expect(clusterSlot(slotKey(base, 1000, 5))).toBe(clusterSlot(base));
    expect(clusterSlot(slotKey(base, 86_400_000, 20_000))).toBe(clusterSlot(base));
  });
});

describe("slotTtlMs", () => {
  it("covers two windows plus a margin, in ms", () => {
    expect(slotTtlMs(1000)).toBe(3000);
    expect(slotTtlMs(60_000)).toBe(121_000);
  });
});
