import { waitUntil } from '../limits.js';
import { BULK_CHUNK } from '../system.js';
import { WORKER_CONCURRENCY } from '../workers/protocol.js';
import { withWorkerProcesses } from '../workers/worker-process.js';
import {
  timed,
  type Phase,
  type PhaseRun,
  type ThroughputSample,
} from './phase.js';

/**
 * Boots `processes` worker processes on the tasks already queued
 * (untimed), then times them from the start call until the store reports
 * every task complete.
 */
export function timedDrain(
  { system, label, deadline }: PhaseRun,
  processes: number,
): Promise<ThroughputSample> {
  return withWorkerProcesses(
    system.worker(),
    processes,
    label,
    deadline,
    (workers): Promise<ThroughputSample> =>
      timed(async () => {
        await Promise.all(workers.map((w) => w.start(deadline)));
        const done = waitUntil(() => system.drained(), deadline);
        await Promise.race([done, ...workers.map((w) => w.failure)]);
      }),
  );
}

/**
 * N tasks are queued and `processes` worker processes booted (untimed); the
 * clock runs from telling them to start until the store reports every task
 * complete.
 */
export function drainPhase(processes: number): Phase {
  return {
    key: processes === 1 ? 'drain' : `drain-${processes}`,
    title: `drain (${processes} worker process${processes === 1 ? '' : 'es'} × concurrency ${WORKER_CONCURRENCY})`,
    metric: 'throughput',
    async run(run) {
      const { system, settings, deadline } = run;
      await system.reset();
      await system.enqueueBulk(settings.n, BULK_CHUNK, deadline);
      return timedDrain(run, processes);
    },
  };
}
