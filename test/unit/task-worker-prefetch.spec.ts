import {
  ScriptedQueue,
  scriptedRunner,
  scriptedTask,
  scriptedWorker,
} from '../fixtures/scripted-queue.js';

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A gate tests open when they like. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe('a worker keeping claimed tasks ready', () => {
  it('never runs more than its concurrency at once, even when a claim holds a damaged row', async () => {
    const queue = new ScriptedQueue();
    const blocked = gate();
    let live = 0;
    let most = 0;
    // The first claim measures the gauge; the second starts with a damaged row.
    queue.claims.push(() => [scriptedTask('q1'), scriptedTask('q2')]);
    queue.claims.push(() => [
      scriptedTask('bad', {
        problem: { errorClass: 'X', message: 'corrupt', traceback: '' },
      }),
      ...['a', 'b', 'c', 'd'].map((id) => scriptedTask(id)),
    ]);
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (id) => {
        if (id.startsWith('q')) return 1;
        live++;
        most = Math.max(most, live);
        await blocked.wait;
        live--;
        return 1;
      }),
      { concurrency: 2 },
    );
    const run = worker.run();
    await sleep(300);
    const seen = most;
    blocked.open();
    worker.stop();
    await run;
    expect(seen).toBe(2);
  });

  it('starts a higher-priority task of a later claim before lower ones kept from an earlier claim', async () => {
    const queue = new ScriptedQueue();
    const order: string[] = [];
    const first = gate();
    queue.claims.push(() => [scriptedTask('q1')]);
    queue.claims.push(() => [
      scriptedTask('slow'),
      scriptedTask('low-1', { priority: -1 }),
    ]);
    queue.claims.push(() => [scriptedTask('high', { priority: 5 })]);
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (id) => {
        order.push(id);
        if (id === 'slow') await first.wait;
        return 1;
      }),
      { concurrency: 1, prefetch: 5 },
    );
    const run = worker.run();
    while (queue.claims.length > 0) await sleep(5);
    await sleep(30);
    first.open();
    await sleep(50);
    worker.stop();
    await run;
    expect(order.indexOf('high')).toBeLessThan(order.indexOf('low-1'));
  });

  it('does not take a lost-claim report about a task it handed back for the same attempt claimed again', async () => {
    const queue = new ScriptedQueue();
    queue.leaseMs = 300;
    const long = gate();
    const aborted: string[] = [];
    queue.claims.push(() => [scriptedTask('q1')]);
    queue.claims.push(() => [scriptedTask('L'), scriptedTask('X')]);
    let handedBack = false;
    queue.releaseImpl = async (held) => {
      if (held.some((task) => task.id === 'X')) {
        handedBack = true;
        // Claimed again with the same attempt number.
        queue.claims.push(() => [scriptedTask('X')]);
        long.open();
      }
    };
    // A heartbeat that saw X before it was handed back answers after the new claim.
    let staleBeat = false;
    queue.heartbeatImpl = async (held) => {
      if (handedBack || staleBeat || !held.some((task) => task.id === 'X'))
        return [];
      staleBeat = true;
      while (!handedBack) await sleep(5);
      await sleep(60);
      return ['X'];
    };
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (id, signal) => {
        signal.addEventListener('abort', () => aborted.push(id));
        if (id === 'L') await long.wait;
        if (id === 'X') await sleep(200);
        return 1;
      }),
      { concurrency: 1, prefetch: 5 },
    );
    const run = worker.run();
    await sleep(800);
    worker.stop();
    long.open();
    await run;
    expect(aborted).not.toContain('X');
    expect(queue.completed.map((record) => record.data.id)).toContain('X');
  });

  it('is not held up by a hand-back that hangs when it aborts', async () => {
    const queue = new ScriptedQueue();
    queue.claims.push(() => [scriptedTask('q1')]);
    queue.claims.push(() => ['L', 'X', 'Y'].map((id) => scriptedTask(id)));
    queue.releaseImpl = () =>
      new Promise((resolve) => setTimeout(resolve, 4000));
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (id) => {
        if (id !== 'q1') await new Promise(() => {});
        return 1;
      }),
      { concurrency: 1, prefetch: 5 },
    );
    const run = worker.run();
    await sleep(100);
    const begun = Date.now();
    worker.abort();
    expect(await run).toBe('aborted');
    expect(Date.now() - begun).toBeLessThan(500);
  });

  it('keeps renewing the tasks it failed to hand back, and hands them back once the store answers', async () => {
    const queue = new ScriptedQueue();
    queue.leaseMs = 300;
    const heldByBeats: string[][] = [];
    queue.heartbeatImpl = async (held) => {
      heldByBeats.push(held.map((task) => task.id));
      return [];
    };
    let failures = 2;
    queue.releaseImpl = async (held) => {
      if (failures-- > 0) throw new Error('connection lost');
      queue.released.push([...held]);
    };
    queue.claims.push(() => [scriptedTask('q1')]);
    queue.claims.push(() => ['L', 'X'].map((id) => scriptedTask(id)));
    const long = gate();
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (id) => {
        if (id === 'L') await long.wait;
        return 1;
      }),
      { concurrency: 1, prefetch: 5 },
    );
    const run = worker.run();
    await sleep(600);
    long.open();
    worker.stop();
    await run;
    expect(queue.released.flat().map((task) => task.id)).toEqual(['X']);
    // While the hand-back failed, the heartbeat kept X held.
    expect(heldByBeats.some((ids) => ids.includes('X'))).toBe(true);
  });
});

describe('a batch worker', () => {
  it('claims again before it exits when a task ended while an empty claim travelled', async () => {
    const queue = new ScriptedQueue();
    queue.claimDelayMs = 100;
    queue.claims.push(() => [scriptedTask('A')]);
    // Taken in the claim made while A runs: it saw the store before A committed.
    queue.claims.push(() => []);
    queue.completeImpl = (records) => {
      // A commits a follow-up task together with its outcome.
      if (records.some((record) => record.data.id === 'A'))
        queue.claims.push(() => [scriptedTask('F')]);
      return records.map((record) => record.data.id);
    };
    const ran: string[] = [];
    const worker = scriptedWorker(
      queue,
      scriptedRunner(async (id) => {
        ran.push(id);
        if (id === 'A') await sleep(60);
        return 1;
      }),
      { batch: true, intervalMs: 10 },
    );
    expect(await worker.run()).toBe('drained');
    expect(ran).toEqual(['A', 'F']);
  });
});
