/**
 * Payloads of the peers' no-op jobs. A pickup job carries the time its
 * enqueue call began (`wallClockMs()`); its worker reports when it starts it.
 */
export type BenchPayload = { i: number } | { enqueuedAt: number };

export function noopPayload(i: number): BenchPayload {
  return { i };
}

export function pickupPayload(enqueuedAt: number): BenchPayload {
  return { enqueuedAt };
}

/** The enqueue time a pickup payload carries, or undefined for a no-op one. */
export function enqueuedAtOf(payload: unknown): number | undefined {
  const value = (payload as { enqueuedAt?: unknown } | null)?.enqueuedAt;
  return typeof value === 'number' ? value : undefined;
}
