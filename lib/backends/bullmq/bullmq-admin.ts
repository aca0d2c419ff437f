import type { Job, JobType, Queue } from 'bullmq';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type {
  BackendAdmin,
  BackendStatus,
  PruneRequest,
} from '../backend-admin.js';
import type { ResultsAdmin } from '../results-admin.js';
import {
  BullMQResultsAdmin,
  type BullMQResultsHost,
} from './bullmq-results-admin.js';
import type { BullMQStore } from './bullmq-store.js';
import { liveWorkers } from './bullmq-worker-queue.js';
import { RedisScripts } from './redis-scripts.js';

const { READY, RUNNING, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;

/** BullMQ's job states, and the status of results in each (its failed jobs are FAILED or CANCELLED). */
const STATE_STATUS: Record<string, TaskResultStatus> = {
  waiting: READY,
  prioritized: READY,
  delayed: READY,
  paused: READY,
  active: RUNNING,
  completed: SUCCESSFUL,
  failed: FAILED,
};

/** How many of a queue's latest failed jobs `status` reads to tell cancelled ones apart (the rest are estimated alike). */
const CANCELLED_SAMPLE = 10_000;

/** What `tasks:status`, `tasks:prune` and the dashboard do on a BullMQBackend, over each of its queues. */
export class BullMQAdmin implements BackendAdmin {
  readonly results: ResultsAdmin;

  constructor(
    private readonly store: BullMQStore,
    host: BullMQResultsHost,
  ) {
    this.results = new BullMQResultsAdmin(store, host);
  }

  /** Deletes (or counts) the jobs of finished results, oldest first, batchSize at a time. */
  async prune(request: PruneRequest): Promise<number> {
    const { statuses } = request;
    let count = 0;
    for (const name of await this.store.knownQueues()) {
      const queue = await this.store.queue(name);
      if (statuses.includes(SUCCESSFUL))
        count += await this.pruneState(queue, 'completed', request, () => true);
      if (statuses.includes(FAILED) || statuses.includes(CANCELLED)) {
        const cancelled = TaskMessages.bullmqCancelledReason();
        count += await this.pruneState(queue, 'failed', request, (job) =>
          statuses.includes(
            job.failedReason === cancelled ? CANCELLED : FAILED,
          ),
        );
      }
    }
    return count;
  }

  private async pruneState(
    queue: Queue,
    state: 'completed' | 'failed',
    request: PruneRequest,
    wanted: (job: Job) => boolean,
  ): Promise<number> {
    const before = request.finishedBefore.getTime();
    let pruned = 0;
    let offset = 0;
    for (;;) {
      const jobs = (await queue.getJobs(
        [state],
        offset,
        offset + request.batchSize - 1,
        true,
      )) as Job[];
      const old = jobs.filter((job) => job && (job.finishedOn ?? 0) < before);
      const doomed = old.filter(wanted);
      if (!request.dryRun)
        await Promise.all(doomed.map((job) => queue.remove(String(job.id))));
      pruned += doomed.length;
      // Removed jobs leave the set; the others are stepped over.
      offset += request.dryRun ? jobs.length : jobs.length - doomed.length;
      if (old.length < jobs.length || jobs.length < request.batchSize) break;
    }
    return pruned;
  }

  async oldestDueReady(): Promise<Date | null> {
    const client = await this.store.client();
    let oldest: number | null = null;
    for (const name of await this.store.knownQueues()) {
      const { keys } = await this.store.queue(name);
      const due = await RedisScripts.oldestDue(
        client,
        {
          wait: keys.wait,
          paused: keys.paused,
          prioritized: keys.prioritized,
          delayed: keys.delayed,
        },
        this.store.queuePrefix(name),
        Date.now(),
      );
      if (due !== null && (oldest === null || due < oldest)) oldest = due;
    }
    return oldest === null ? null : new Date(oldest);
  }

  async status(): Promise<BackendStatus> {
    const client = await this.store.client();
    const counts: BackendStatus['counts'] = [];
    for (const name of await this.store.knownQueues()) {
      const queue = await this.store.queue(name);
      const byState = await queue.getJobCounts(
        ...(Object.keys(STATE_STATUS) as JobType[]),
      );
      const byStatus = new Map<TaskResultStatus, number>();
      for (const [state, count] of Object.entries(byState)) {
        const status = STATE_STATUS[state];
        if (status) byStatus.set(status, (byStatus.get(status) ?? 0) + count);
      }
      const failed = byStatus.get(FAILED) ?? 0;
      byStatus.delete(FAILED);
      for (const [status, count] of byStatus)
        if (count > 0) counts.push({ queue: name, status, count });
      if (failed === 0) continue;
      // Cancelled jobs are failed jobs with the cancel's reason: told apart
      // among the latest ones only, the rest estimated alike.
      const sample = await RedisScripts.countReason(
        client,
        queue.keys.failed,
        this.store.queuePrefix(name),
        TaskMessages.bullmqCancelledReason(),
        CANCELLED_SAMPLE,
      );
      const exact = sample.read >= failed;
      const cancelled = exact
        ? sample.matching
        : Math.round((sample.matching / sample.read) * failed);
      const precision = exact ? 'exact' : 'estimate';
      for (const [status, count] of [
        [CANCELLED, cancelled],
        [FAILED, failed - cancelled],
      ] as const)
        if (count > 0) counts.push({ queue: name, status, count, precision });
    }
    const ticks = await client.hgetall(this.store.key('ticks'));
    return {
      counts: counts.sort(
        (a, b) =>
          a.queue.localeCompare(b.queue) || a.status.localeCompare(b.status),
      ),
      workers: liveWorkers(
        await client.hgetall(this.store.key('workers')),
        this.store.settings.leaseMs,
      ),
      lastTicks: Object.entries(ticks)
        .map(([taskName, tick]) => ({
          taskName,
          lastTick: new Date(Number(tick)),
        }))
        .sort((a, b) => a.taskName.localeCompare(b.taskName)),
    };
  }
}
