import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { DeferredPromoter } from '../../lib/worker/deferred-promoter.js';
import { OutageLog } from '../../lib/worker/outage-log.js';

const INTERVAL = 1000;

/** An answer of `promoteDue`, or a failure. */
type Answer = { promoted: number; nextDueAt: number | null } | Error;

/**
 * A store whose promotions answer as scripted (then: nothing promoted,
 * nothing deferred), recording when each call was made (ms since the test
 * began, on the fake clock).
 */
function scriptedStore(script: Answer[]) {
  const begun = Date.now();
  const calls: number[] = [];
  return {
    calls,
    begun,
    store: {
      promoteDue: async (limit: number) => {
        expect(limit).toBeGreaterThan(0);
        calls.push(Date.now() - begun);
        const answer = script.shift() ?? { promoted: 0, nextDueAt: null };
        if (answer instanceof Error) throw answer;
        return answer;
      },
    },
  };
}

describe('DeferredPromoter', () => {
  const logger = new Logger('test');
  let promoter: DeferredPromoter | undefined;
  let woken = 0;

  const start = (store: ReturnType<typeof scriptedStore>['store']) => {
    promoter = new DeferredPromoter(
      store,
      INTERVAL,
      new OutageLog(logger, 'default'),
      () => woken++,
    );
    promoter.start();
    return promoter;
  };

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick'] });
    woken = 0;
  });

  afterEach(async () => {
    promoter?.stop();
    await jest.runOnlyPendingTimersAsync();
    await promoter?.settled();
    promoter = undefined;
    jest.useRealTimers();
  });

  it('passes at once, then once per polling interval while nothing is deferred', async () => {
    const { calls, store } = scriptedStore([]);
    start(store);
    await jest.advanceTimersByTimeAsync(3 * INTERVAL + 10);
    expect(calls).toEqual([0, INTERVAL, 2 * INTERVAL, 3 * INTERVAL]);
    expect(woken).toBe(0);
  });

  it('passes when the first deferred task falls due, as the last pass read it', async () => {
    const { calls, store } = scriptedStore([
      { promoted: 0, nextDueAt: Date.now() + 300 },
      { promoted: 2, nextDueAt: null },
    ]);
    start(store);
    await jest.advanceTimersByTimeAsync(300 + INTERVAL + 10);
    expect(calls).toEqual([0, 300, 300 + INTERVAL]);
    expect(woken).toBe(1);
    expect(promoter!.promotions).toBe(1);
  });

  it('passes when a deferred task it is told of falls due, never sooner', async () => {
    const { calls, store, begun } = scriptedStore([]);
    const started = start(store);
    await jest.advanceTimersByTimeAsync(100);
    started.expect(begun + 400);
    // A due time later than the next regular pass changes nothing.
    started.expect(begun + 5 * INTERVAL);
    await jest.advanceTimersByTimeAsync(INTERVAL + 400);
    expect(calls).toEqual([0, 400, 400 + INTERVAL]);
  });

  it('repeats a call while it promotes full batches, waking the worker after each', async () => {
    const { calls, store } = scriptedStore([
      { promoted: 1000, nextDueAt: Date.now() },
      { promoted: 1000, nextDueAt: Date.now() },
      { promoted: 7, nextDueAt: null },
    ]);
    start(store);
    await jest.advanceTimersByTimeAsync(10);
    expect(calls).toEqual([0, 0, 0]);
    expect(woken).toBe(3);
    expect(promoter!.promotions).toBe(3);
  });

  it('looks again a polling interval later at due tasks another transaction holds, not in a loop', async () => {
    // Due before the first pass began, and left by every pass.
    const dueAt = Date.now() - 1;
    const { calls, store } = scriptedStore(
      Array.from({ length: 5 }, () => ({ promoted: 0, nextDueAt: dueAt })),
    );
    start(store);
    await jest.advanceTimersByTimeAsync(2 * INTERVAL + 10);
    expect(calls).toEqual([0, INTERVAL, 2 * INTERVAL]);
  });

  it('spaces passes out while tasks fall due during each', async () => {
    const begun = Date.now();
    const calls: number[] = [];
    const store = {
      promoteDue: async () => {
        const at = Date.now();
        calls.push(at - begun);
        // The call takes 20 ms; a task fell due 10 ms into it, after its
        // statement was written.
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { promoted: 0, nextDueAt: at + 10 };
      },
    };
    start(store);
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(calls.length).toBeGreaterThan(2);
    for (let i = 1; i < calls.length; i++)
      expect(calls[i] - calls[i - 1]).toBeGreaterThanOrEqual(20 + 50);
  });

  it('tries again a polling interval after a failure', async () => {
    const { calls, store } = scriptedStore([
      new Error('Connection terminated unexpectedly'),
    ]);
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => {});
    start(store);
    await jest.advanceTimersByTimeAsync(INTERVAL + 10);
    expect(calls).toEqual([0, INTERVAL]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/promoting deferred tasks/);
  });

  it('runs a pass on request after the one under way, and none once stopped', async () => {
    const { calls, store } = scriptedStore([
      { promoted: 0, nextDueAt: null },
      { promoted: 3, nextDueAt: null },
    ]);
    const started = start(store);
    await jest.advanceTimersByTimeAsync(10);
    const before = started.promotions;
    await started.passNow();
    expect(calls).toEqual([0, 10]);
    expect(started.promotions).toBe(before + 1);
    started.stop();
    await started.passNow();
    started.expect(Date.now());
    await jest.advanceTimersByTimeAsync(3 * INTERVAL);
    expect(calls).toEqual([0, 10]);
  });
});
