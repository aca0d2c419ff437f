import { wallClockMs } from '../clock.js';
import { checkDeadline, sleep, waitUntil } from '../limits.js';
import { withWorkerProcesses } from '../workers/worker-process.js';
import type { LatencySample, Phase } from './phase.js';

/**
 * One worker process is started on an empty store and left alone for a
 * moment; then pickup tasks are enqueued one by one, `pickupGapMs` apart.
 * Each carries the time just before its enqueue call, and the worker
 * reports, at the start of the task's body, how long ago that was.
 */
export const pickupPhase: Phase = {
  key: 'pickup',
  title: 'pickup latency (idle worker process)',
  metric: 'latency',
  async run({ system, label, settings, deadline }) {
    await system.reset();
    const samplesMs: number[] = [];
    return withWorkerProcesses(
      system.worker(),
      1,
      label,
      deadline,
      async ([worker]): Promise<LatencySample> => {
        await worker.start(deadline);
        await sleep(settings.settleMs, deadline);
        const first = wallClockMs();
        for (let i = 0; i < settings.pickupTasks; i++) {
          checkDeadline(deadline);
          const wait = first + i * settings.pickupGapMs - wallClockMs();
          if (wait > 0) await sleep(wait, deadline);
          await worker.watch(system.enqueuePickup(wallClockMs()));
        }
        await worker.watch(
          waitUntil(() => samplesMs.length >= settings.pickupTasks, deadline),
        );
        return { metric: 'latency', samplesMs };
      },
      (latencyMs) => samplesMs.push(latencyMs),
    );
  },
};
