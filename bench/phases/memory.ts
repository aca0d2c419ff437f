import { sleep } from '../limits.js';
import { withWorkerProcesses } from '../workers/worker-process.js';
import type { MemorySample, Phase, PhaseRun } from './phase.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** RSS of a fresh worker process, started and left idle for `idleMs`. */
function idleWorkerRss({
  system,
  label,
  settings,
  deadline,
}: PhaseRun): Promise<number> {
  return withWorkerProcesses(
    system.worker(),
    1,
    label,
    deadline,
    async ([worker]) => {
      await worker.start(deadline);
      await worker.watch(sleep(settings.idleMs, deadline));
      return worker.rss(deadline);
    },
  );
}

/**
 * The RSS of an idle worker process on an empty store, then of a fresh one
 * with `deferred` tasks due a day later in the store (inserted untimed).
 */
export const memoryPhase: Phase = {
  key: 'memory',
  title: 'idle worker process RSS',
  metric: 'memory',
  once: true,
  async run(run): Promise<MemorySample> {
    const { system, label, settings, deadline } = run;
    await system.reset();
    const emptyRssBytes = await idleWorkerRss(run);
    const runAt = new Date(Date.now() + DAY_MS);
    const inserting = performance.now();
    await system.enqueueDeferred(settings.deferred, runAt, deadline);
    const insertMs = performance.now() - inserting;
    const deferredRssBytes = await idleWorkerRss(run);
    const left = await system.remaining();
    if (left !== settings.deferred)
      throw new Error(
        `${label}: ${settings.deferred} deferred tasks were enqueued but the store holds ${left} not complete`,
      );
    return { metric: 'memory', emptyRssBytes, deferredRssBytes, insertMs };
  },
};
