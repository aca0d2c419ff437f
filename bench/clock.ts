/**
 * Milliseconds since the epoch with sub-millisecond resolution, from the
 * machine's clock: comparable between the bench and its worker processes.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
