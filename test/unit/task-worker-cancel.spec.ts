import {
  TaskCancelledError,
  TaskResultStatus,
  type TaskResult,
} from '../../lib/index.js';
import type { TaskEventName } from '../../lib/task/task-event.js';
import {
  ScriptedQueue,
  scriptedRunner,
  scriptedTask,
  scriptedWorker,
} from '../fixtures/scripted-queue.js';
import { waitFor } from '../support/wait.js';

const { CANCELLED } = TaskResultStatus;

/** Resolves with the signal's reason once it aborts. */
const abortReason = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    signal.addEventListener('abort', () => resolve(signal.reason));
  });

/** The `finished` events a runner announced, as `id:status` (of the scripted results' state). */
function finishedEvents() {
  const seen: string[] = [];
  const onEmit = (event: TaskEventName, result: TaskResult<unknown>) => {
    if (event === 'finished')
      seen.push(`${result.id}:${result.snapshot.status}`);
  };
  return { seen, onEmit };
}

describe('a worker whose task is cancelled while it runs', () => {
  it('aborts the attempt a heartbeat reports cancelled with a TaskCancelledError, and records it CANCELLED although it returned', async () => {
    const queue = new ScriptedQueue();
    queue.leaseMs = 150;
    let requested = false;
    queue.heartbeatImpl = async (held) => ({
      lost: [],
      cancelled: requested ? held.map((task) => task.id) : [],
    });
    queue.claims.push(() => [scriptedTask('c')]);
    const reasons: unknown[] = [];
    const { seen, onEmit } = finishedEvents();
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (_id, signal) => {
        requested = true;
        reasons.push(await abortReason(signal));
        return 'returned anyway';
      }, onEmit),
    );
    const run = worker.run();
    await waitFor('the outcome', () => queue.completed.length === 1);
    worker.stop();
    await run;
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(TaskCancelledError);
    expect((reasons[0] as Error).message).toContain('c');
    const [record] = queue.completed;
    expect(record.data.status).toBe(CANCELLED);
    expect(record.data.returnValue).toBeNull();
    expect(record.data.finishedAt).toBeInstanceOf(Date);
    expect(record.retryAt).toBeNull();
    expect(seen).toEqual(['c:CANCELLED']);
  });

  it('hands back an unstarted task a heartbeat reports cancelled instead of starting it', async () => {
    const queue = new ScriptedQueue();
    queue.leaseMs = 150;
    queue.heartbeatImpl = async (held) => ({
      lost: [],
      cancelled: held.some((task) => task.id === 'X') ? ['X'] : [],
    });
    // Slow claims: a task kept waiting turns stale (and goes back) only after 1.6 s.
    queue.claimDelayMs = 400;
    // The first claim measures the gauge; the second keeps X while L runs.
    queue.claims.push(() => [scriptedTask('q1')]);
    queue.claims.push(() => [scriptedTask('L'), scriptedTask('X')]);
    const ran: string[] = [];
    let release!: () => void;
    const long = new Promise<void>((resolve) => (release = resolve));
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (id) => {
        ran.push(id);
        if (id === 'L') await long;
        return 1;
      }),
      { concurrency: 1, prefetch: 5 },
    );
    const run = worker.run();
    await waitFor(
      'the hand-back of X, before it turns stale',
      () => queue.released.some((held) => held.some((task) => task.id === 'X')),
      1500,
    );
    release();
    worker.stop();
    await run;
    expect(ran).not.toContain('X');
    expect(queue.completed.map((record) => record.data.id)).not.toContain('X');
  });

  it('announces CANCELLED an outcome the store wrote CANCELLED, the cancel having come after its last heartbeat', async () => {
    const queue = new ScriptedQueue();
    queue.completeImpl = (records) => ({
      written: records.map((record) => record.data.id),
      cancelled: ['c'],
    });
    queue.claims.push(() => [scriptedTask('c'), scriptedTask('d')]);
    const { seen, onEmit } = finishedEvents();
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async () => 'value', onEmit),
    );
    const run = worker.run();
    await waitFor('both outcomes', () => seen.length === 2);
    worker.stop();
    await run;
    expect(queue.completed.map((record) => record.data.status)).toEqual([
      'SUCCESSFUL',
      'SUCCESSFUL',
    ]);
    expect(seen.sort()).toEqual(['c:CANCELLED', 'd:SUCCESSFUL']);
  });

  it('records CANCELLED, outside the rolled-back transaction, a transactional attempt the store answers cancelled', async () => {
    const queue = new ScriptedQueue();
    const inTransaction: string[] = [];
    queue.inTransaction = async (held, attempt) => {
      const record = await attempt({} as never);
      inTransaction.push(`${held.id}:${record?.data.status}`);
      return 'cancelled';
    };
    queue.claims.push(() => [scriptedTask('t', { transactional: true })]);
    const { seen, onEmit } = finishedEvents();
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async () => 'committed?', onEmit),
    );
    const run = worker.run();
    await waitFor('the outcome', () => queue.completed.length === 1);
    worker.stop();
    await run;
    expect(inTransaction).toEqual(['t:SUCCESSFUL']);
    expect(queue.completed[0].data.status).toBe(CANCELLED);
    expect(queue.completed[0].data.returnValue).toBeNull();
    expect(seen).toEqual(['t:CANCELLED']);
  });

  it('rolls back a transactional attempt cancelled while it ran, whatever it returned', async () => {
    const queue = new ScriptedQueue();
    queue.leaseMs = 150;
    let requested = false;
    queue.heartbeatImpl = async (held) => ({
      lost: [],
      cancelled: requested ? held.map((task) => task.id) : [],
    });
    const committed: unknown[] = [];
    queue.inTransaction = async (_held, attempt) => {
      const record = await attempt({} as never);
      committed.push(record);
      return record !== null;
    };
    queue.claims.push(() => [scriptedTask('t', { transactional: true })]);
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (_id, signal) => {
        requested = true;
        await abortReason(signal);
        return 'returned anyway';
      }),
    );
    const run = worker.run();
    await waitFor('the outcome', () => queue.completed.length === 1);
    worker.stop();
    await run;
    expect(committed).toEqual([null]);
    expect(queue.completed[0].data.status).toBe(CANCELLED);
  });

  it('aborts at once an attempt whose cancel this process requested, and ignores ids it does not hold', async () => {
    const queue = new ScriptedQueue();
    // A lease of an hour: no heartbeat comes while the test runs.
    queue.leaseMs = 3_600_000;
    const watchers: ((id: string) => void)[] = [];
    queue.watchCancels = (onCancel) => {
      watchers.push(onCancel);
      return () => watchers.splice(watchers.indexOf(onCancel), 1);
    };
    queue.claims.push(() => [scriptedTask('c')]);
    let started = false;
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (_id, signal) => {
        started = true;
        return abortReason(signal).then((reason) =>
          reason instanceof TaskCancelledError ? 'cancelled' : 'other',
        );
      }),
    );
    const run = worker.run();
    await waitFor('the task to start', () => started);
    for (const onCancel of watchers) onCancel('unknown');
    for (const onCancel of watchers) onCancel('c');
    await waitFor('the outcome', () => queue.completed.length === 1);
    worker.stop();
    await run;
    expect(queue.completed[0].data.status).toBe(CANCELLED);
    expect(watchers).toEqual([]);
  });
});
