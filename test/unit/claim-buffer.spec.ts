import { jest } from '@jest/globals';
import type { ClaimedTask } from '../../lib/backends/worker-queue.js';
import { ClaimBuffer } from '../../lib/worker/claim-buffer.js';
import { PrefetchGauge } from '../../lib/worker/prefetch-gauge.js';

const claimed = (id: string, attempts = 1, priority = 0) =>
  ({
    result: { id, attempts, task: { priority } },
    problem: null,
  }) as unknown as ClaimedTask;

describe('PrefetchGauge', () => {
  it('keeps nothing until it has measured both a task and a claim', () => {
    const gauge = new PrefetchGauge(10, 100);
    expect(gauge.target(0)).toBe(0);
    gauge.taskEnded(1);
    expect(gauge.target(0)).toBe(0);
    gauge.claimAnswered(5);
    expect(gauge.target(0)).toBe(100);
  });

  it('keeps what the slots run during two claims, and none for tasks longer than that', () => {
    const gauge = new PrefetchGauge(10, 1000);
    gauge.claimAnswered(5);
    gauge.taskEnded(20);
    // 10 slots, each ending a 20 ms task every 20 ms: 2.5 tasks per 5 ms claim, twice that.
    expect(gauge.target(0)).toBe(5);
    // The oldest running attempt has run a second: tasks are long now.
    expect(gauge.target(1000)).toBe(0);
  });

  it('never exceeds its maximum, and 0 turns it off', () => {
    const gauge = new PrefetchGauge(10, 7);
    gauge.claimAnswered(5);
    gauge.taskEnded(0);
    expect(gauge.target(0)).toBe(7);
    const off = new PrefetchGauge(10, 0);
    off.claimAnswered(5);
    off.taskEnded(0);
    expect(off.target(0)).toBe(0);
  });

  it('lets a claimed task wait a few claims before it is stale', () => {
    const gauge = new PrefetchGauge(1, 10);
    const before = gauge.keepMs;
    gauge.claimAnswered(10);
    expect(gauge.keepMs).toBe(before + 40);
  });
});

describe('ClaimBuffer', () => {
  afterEach(() => jest.useRealTimers());

  it('hands tasks out in claim order and knows what it holds', () => {
    const buffer = new ClaimBuffer(2, 10);
    buffer.add([claimed('a'), claimed('b', 3)]);
    expect(buffer.held()).toEqual([
      { id: 'a', attempt: 1 },
      { id: 'b', attempt: 3 },
    ]);
    expect(buffer.take()?.task.result.id).toBe('a');
    expect(buffer.size).toBe(1);
  });

  it('drops a task only for the attempt it holds, and only if claimed by the time the report looked', () => {
    const buffer = new ClaimBuffer(2, 10);
    buffer.add([claimed('a', 2)]);
    const now = performance.now();
    expect(buffer.drop({ id: 'a', attempt: 1 }, now)).toBe(false);
    expect(buffer.drop({ id: 'a', attempt: 2 }, now - 1000)).toBe(false);
    expect(buffer.drop({ id: 'a', attempt: 2 }, now)).toBe(true);
    expect(buffer.size).toBe(0);
  });

  it('places a claimed task after those of its priority or higher, before lower ones', () => {
    const buffer = new ClaimBuffer(2, 10);
    buffer.add([claimed('p5', 1, 5), claimed('p0', 1, 0)]);
    buffer.add([claimed('p3', 1, 3), claimed('p5-later', 1, 5)]);
    expect(buffer.held().map((task) => task.id)).toEqual([
      'p5',
      'p5-later',
      'p3',
      'p0',
    ]);
  });

  it('gives up the tasks kept longer than the gauge allows, oldest first', () => {
    jest.useFakeTimers({ doNotFake: ['nextTick'] });
    const buffer = new ClaimBuffer(2, 10);
    buffer.add([claimed('old')]);
    jest.advanceTimersByTime(buffer.gauge.keepMs - 5);
    buffer.add([claimed('new')]);
    expect(buffer.takeStale()).toEqual([]);
    expect(buffer.msUntilStale()).toBeLessThanOrEqual(5);
    jest.advanceTimersByTime(10);
    expect(buffer.takeStale()).toEqual([{ id: 'old', attempt: 1 }]);
    expect(buffer.held()).toEqual([{ id: 'new', attempt: 1 }]);
    expect(buffer.takeAll()).toEqual([{ id: 'new', attempt: 1 }]);
    expect(buffer.msUntilStale()).toBe(Infinity);
  });
});
