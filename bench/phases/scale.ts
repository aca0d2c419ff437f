import { median } from '../stats.js';
import { BULK_CHUNK } from '../system.js';
import { timedDrain } from './drain.js';
import type { Phase, PhaseRun, ScaleSample } from './phase.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** What the prune keeps: the results finished within the last week (`tasks:prune`'s default). */
const KEEP_MS = 7 * DAY_MS;

/** The time `work` takes, and what it returned. */
async function stopwatch<T>(
  work: () => Promise<T>,
): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await work();
  return { ms: performance.now() - started, result };
}

/** N tasks queued, then drained by one worker process (timed). */
async function drain(run: PhaseRun): Promise<number> {
  await run.system.enqueueBulk(run.settings.n, BULK_CHUNK, run.deadline);
  return (await timedDrain(run, 1)).ms;
}

/**
 * The costs that must stay flat as the table grows, in one run on one
 * table: a drain of N tasks on an empty table; the same beside `deferred`
 * tasks of a higher priority due a day later; the same beside `finished`
 * finished results; `tasks:status` with those in the table; and a drain
 * while a prune deletes the older half of them. The large tables are
 * filled by the database itself (untimed).
 */
export const scalePhase: Phase = {
  key: 'scale',
  title: 'drains on large tables (1 worker process)',
  metric: 'scale',
  once: true,
  scale: true,
  async run(run): Promise<ScaleSample> {
    const { system, label, settings, deadline } = run;
    const scale = system.scale;
    if (!scale) throw new Error(`${label} has no scale phase`);
    const check = () => {
      if (deadline.aborted) throw new Error('phase time limit reached');
    };
    await system.reset();
    const emptyMs = await drain(run);

    await system.reset();
    const deferredFill = await stopwatch(() =>
      scale.fillDeferred(settings.deferred, new Date(Date.now() + DAY_MS)),
    );
    await scale.settle();
    check();
    const deferredMs = await drain(run);

    await system.reset();
    const pruneBefore = new Date(Date.now() - KEEP_MS);
    const finishedFill = await stopwatch(async () => {
      await scale.fillFinished(settings.finished, pruneBefore);
      await scale.settle();
    });
    check();
    const finishedMs = await drain(run);

    const statusRuns = [];
    for (let i = 0; i < 3; i++)
      statusRuns.push(await stopwatch(() => scale.status()));
    check();

    await system.enqueueBulk(settings.n, BULK_CHUNK, deadline);
    const pruning = stopwatch(() => scale.prune(pruneBefore));
    // A prune that fails fails the phase, but only once the drain is over.
    pruning.catch(() => undefined);
    const pruneDrainMs = (await timedDrain(run, 1)).ms;
    const prune = await pruning;
    await system.reset();
    return {
      metric: 'scale',
      emptyMs,
      deferredMs,
      finishedMs,
      statusMs: median(statusRuns.map((r) => r.ms)),
      statusCounts: statusRuns[statusRuns.length - 1].result,
      pruneDrainMs,
      pruneMs: prune.ms,
      pruned: prune.result,
      fillMs: { deferred: deferredFill.ms, finished: finishedFill.ms },
    };
  },
};
