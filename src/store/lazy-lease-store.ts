import type { LeaseStore } from "./lease-store.ts";

/**
 * A LeaseStore created on first use. Most calls carry no lease entry, and a policy may set no
 * concurrency limit at all: Sluice then opens no lease connections (two per instance on Redis,
 * one of them a pub/sub subscriber). Release listeners are kept and attached once the store
 * exists; a notice published before its subscriber is up is missed, which waiters' own retries
 * cover (lease-queue.ts).
 */
export function lazyLeaseStore(create: () => LeaseStore): LeaseStore & { open(): void } {
  let store: LeaseStore | undefined;
  const listeners = new Set<(key: string) => void>();
  const open = (): LeaseStore => {
    if (store === undefined) {
      store = create();
      store.onRelease((key) => {
        for (const listener of listeners) listener(key);
      });
    }
    return store;
  };
  return {
    /** Creates the store now: connections are then up before the first burst of lease calls. */
    open: () => {
      open();
    },
    acquire: (request, options) => open().acquire(request, options),
    release: (key, leaseId, options) => open().release(key, leaseId, options),
    // Before any lease call the store may not exist: then nothing is held by this instance, but a
    // shared (Redis) store may hold other instances' leases, so it is opened to ask.
    held: (key, options) => open().held(key, options),
    onRelease(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => store?.close() ?? Promise.resolve(),
  };
}
