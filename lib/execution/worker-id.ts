import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** An id naming this process as a worker: host, pid and a random suffix. */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
