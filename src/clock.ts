/** Milliseconds since the Unix epoch. Injected so window arithmetic is tested without sleeping. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
