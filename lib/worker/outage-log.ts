import type { Logger } from '@nestjs/common';
import { TaskMessages } from '../tasks.messages.js';

/**
 * Logs a store outage once when it starts and once when it ends, however
 * many calls fail meanwhile (claims, heartbeats, outcome writes).
 */
export class OutageLog {
  private since: number | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly backend: string,
  ) {}

  /** A call to the store failed: logged when it is the first failure since the store last answered. */
  failed(what: string, error: unknown): void {
    if (this.since !== null) return;
    this.since = Date.now();
    this.logger.warn(TaskMessages.storeUnreachable(this.backend, what, error));
  }

  /** A call to the store succeeded: ends the outage, if there was one. */
  answered(): void {
    if (this.since === null) return;
    this.logger.log(
      TaskMessages.storeReachable(this.backend, Date.now() - this.since),
    );
    this.since = null;
  }
}
