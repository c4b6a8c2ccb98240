/**
 * Bounds on what one ShouldRateLimit call may carry. Envoy's own descriptors stay far below them;
 * a call beyond them is a bug or an attack, and refusing it early keeps one call from costing the
 * matcher, the store and the metrics an unbounded amount of work.
 */
export interface RequestLimits {
  /** Descriptors per call. */
  readonly maxDescriptors: number;
  /** Entries per descriptor (the policy tree is never that deep). */
  readonly maxEntriesPerDescriptor: number;
  /** UTF-8 bytes of the domain and of each entry key. */
  readonly maxKeyBytes: number;
  /** UTF-8 bytes of each entry value (paths and header values can be long, so more room). */
  readonly maxValueBytes: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = Object.freeze({
  maxDescriptors: 64,
  maxEntriesPerDescriptor: 16,
  maxKeyBytes: 256,
  maxValueBytes: 1024,
});

/**
 * Bound on a whole encoded request, in bytes; a longer message is not decoded and is answered
 * INVALID_ARGUMENT (the gRPC edge's service-definition.ts and grpc-server.ts).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
