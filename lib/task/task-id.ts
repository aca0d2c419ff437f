import { randomFillSync } from 'node:crypto';

/** The random bytes of an id. */
const RANDOM_BYTES = 10;

/** Random bytes drawn in blocks, one system call per 256 ids. */
const pool = new Uint8Array(RANDOM_BYTES * 256);
let used = pool.length;

/** Each byte's two hex digits. */
const HEX = Array.from({ length: 256 }, (_, byte) =>
  byte.toString(16).padStart(2, '0'),
);

/** The id's first 15 characters, for the millisecond `prefixMs`. */
let prefix = '';
let prefixMs = -1;

/**
 * A new task id: a UUID of version 7 (RFC 9562), whose first 48 bits are
 * `now` in milliseconds and whose other 74 free bits are random. Ids made
 * close in time sort close together, so a database's index of ids takes new
 * tasks at its end instead of at a random page each (bulk enqueues write
 * about twice as fast on PostgreSQL), and stays as unique as a random UUID.
 */
export function newTaskId(now: number = Date.now()): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const r = used;
  used += RANDOM_BYTES;
  if (now !== prefixMs) {
    // 48 bits of time as 12 hex digits, then the version.
    const time = now.toString(16).padStart(12, '0');
    prefix = `${time.slice(0, 8)}-${time.slice(8)}-7`;
    prefixMs = now;
  }
  return (
    `${prefix}${HEX[pool[r] & 0x0f].slice(1)}${HEX[pool[r + 1]]}-` +
    `${HEX[(pool[r + 2] & 0x3f) | 0x80]}${HEX[pool[r + 3]]}-` +
    HEX[pool[r + 4]] +
    HEX[pool[r + 5]] +
    HEX[pool[r + 6]] +
    HEX[pool[r + 7]] +
    HEX[pool[r + 8]] +
    HEX[pool[r + 9]]
  );
}
