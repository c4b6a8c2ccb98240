/**
 * Memoises counter-key.ts `counterKey`: hashing an id with SHA-256 costs more than the rest of a
 * memory-store charge, and the same ids (a tenant's plan, an API key) come back call after call.
 *
 * Bounded without an LRU list: ids go into a young map; when it holds `maxEntries`, it becomes the
 * old map (the previous old one is dropped) and a new young map starts. A hit in the old map moves
 * the id back to the young one. Memory stays within 2 × maxEntries ids, and ids in steady use are
 * never hashed twice.
 */
export function cachedCounterKey(
  counterKey: (counterId: string) => string,
  maxEntries: number,
): (counterId: string) => string {
  if (maxEntries <= 0) return counterKey;
  let young = new Map<string, string>();
  let old = new Map<string, string>();
  const remember = (counterId: string, key: string) => {
    if (young.size >= maxEntries) {
      old = young;
      young = new Map();
    }
    young.set(counterId, key);
  };
  return (counterId) => {
    const known = young.get(counterId);
    if (known !== undefined) return known;
    const key = old.get(counterId) ?? counterKey(counterId);
    remember(counterId, key);
    return key;
  };
}
