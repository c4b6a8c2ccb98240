import type { Deadline } from "@grpc/grpc-js";

/** The parts of a grpc-js server call that say whether its caller is still waiting. */
export interface WaitingCaller {
  getDeadline(): Deadline;
  readonly cancelled: boolean;
}

/**
 * The call's deadline in ms since the epoch, Infinity when the caller set none. Envoy's rate-limit
 * filter always sets one (its `timeout`, 20 ms by default), so the store is never waited on longer.
 */
export function deadlineMs(caller: WaitingCaller): number {
  const deadline = caller.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/**
 * Whether the caller has stopped waiting: it cancelled (Envoy resets the stream when its own timer
 * fires first) or the deadline passed (grpc-js has then already sent DEADLINE_EXCEEDED). A decision
 * made after that reaches no one, so it is not sent.
 */
export function callerGaveUp(caller: WaitingCaller, deadline: number, now = Date.now()): boolean {
  return caller.cancelled || now >= deadline;
}
