import { describe, expect, it } from "vitest";
import { cachedCounterKey } from "./cached-counter-key.ts";
import { counterKey } from "./counter-key.ts";

function counting() {
  const calls: string[] = [];
  const keyOf = (id: string) => {
    calls.push(id);
    return `key(${id})`;
  };
  return { calls, keyOf };
}

describe("cachedCounterKey", () => {
  it("answers what counterKey answers", () => {
    const cached = cachedCounterKey(counterKey, 10);
    for (const id of ["a", "b", "a", '["api",["tenant","acme"]]']) expect(cached(id)).toBe(counterKey(id));
  });

  it("hashes an id once while it stays in use", () => {
    const { calls, keyOf } = counting();
    const cached = cachedCounterKey(keyOf, 2);
    for (let round = 0; round < 5; round++) {
      for (const id of ["a", "b", "c"]) cached(id);
    }
    // Three ids with room for two per generation: each is found in the young or the old map.
    expect(calls).toEqual(["a", "b", "c"]);
  });

  it("forgets ids not seen for two generations", () => {
    const { calls, keyOf } = counting();
    const cached = cachedCounterKey(keyOf, 2);
    cached("a");
    for (const id of ["b", "c", "d", "e"]) cached(id);
    cached("a");
    expect(calls).toEqual(["a", "b", "c", "d", "e", "a"]);
  });

  it("hashes every time when disabled", () => {
    const { calls, keyOf } = counting();
    const cached = cachedCounterKey(keyOf, 0);
    cached("a");
    cached("a");
    expect(calls).toEqual(["a", "a"]);
  });
});
