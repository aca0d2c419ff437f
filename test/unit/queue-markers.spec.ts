import { jest } from '@jest/globals';
import {
  QueueMarkers,
  type Marker,
  type MarkerListener,
} from '../../lib/backends/bullmq/queue-markers.js';

/** A queue's markers as the test hands them out: each `take` waits for the next one the test gives. */
class ScriptedMarkers {
  taken = 0;
  putBacks = 0;
  private waiting: ((marker: Marker | null) => void) | null = null;

  readonly source = {
    take: () =>
      new Promise<Marker | null>((resolve) => {
        this.taken += 1;
        this.waiting = resolve;
      }),
    putBack: async () => {
      this.putBacks += 1;
    },
  };

  /** Answers the wait in progress with `marker`; false when no wait is in progress. */
  give(marker: Marker | null): boolean {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.(marker);
    return waiting !== null;
  }

  get waitingNow(): boolean {
    return this.waiting !== null;
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function listener(wantsWork: boolean): MarkerListener & { woken: number } {
  const it = {
    woken: 0,
    wants: wantsWork,
    onWake: () => (it.woken += 1),
    wantsWork: () => it.wants,
  };
  return it;
}

const NOW = 1_000_000;

/** A watch on fake timers at NOW with one listener, waiting for its first marker. */
async function watching(wantsWork: boolean) {
  jest.useFakeTimers({ now: NOW });
  const scripted = new ScriptedMarkers();
  const markers = new QueueMarkers(scripted.source);
  const one = listener(wantsWork);
  const stop = markers.listen(one);
  await jest.advanceTimersByTimeAsync(0);
  return { scripted, markers, listener: one, stop };
}

describe('QueueMarkers', () => {
  afterEach(() => jest.useRealTimers());

  it('wakes the listeners that want work, and waits for a claim before it takes the next marker', async () => {
    const scripted = new ScriptedMarkers();
    const markers = new QueueMarkers(scripted.source);
    const idle = listener(true);
    const busy = listener(false);
    const stops = [markers.listen(idle), markers.listen(busy)];
    await settle();
    expect(scripted.give({ score: 0 })).toBe(true);
    await settle();
    expect([idle.woken, busy.woken, scripted.putBacks]).toEqual([1, 0, 0]);
    // No claim yet: the next marker is left for other processes.
    expect(scripted.waitingNow).toBe(false);
    markers.claimed();
    await settle();
    expect(scripted.waitingNow).toBe(true);
    stops.forEach((stop) => stop());
    scripted.give(null);
  });

  it('puts a marker back for another process when no listener wants work', async () => {
    const scripted = new ScriptedMarkers();
    const markers = new QueueMarkers(scripted.source);
    const busy = listener(false);
    const stop = markers.listen(busy);
    await settle();
    scripted.give({ score: 0 });
    await settle();
    expect([busy.woken, scripted.putBacks]).toEqual([0, 1]);
    stop();
    markers.claimed();
    await settle();
    scripted.give(null);
  });

  it('takes the next marker after a while even when this process claims nothing', async () => {
    const { scripted, stop } = await watching(false);
    scripted.give({ score: 0 });
    await jest.advanceTimersByTimeAsync(0);
    expect(scripted.waitingNow).toBe(false);
    await jest.advanceTimersByTimeAsync(1000);
    expect(scripted.waitingNow).toBe(true);
    stop();
    scripted.give(null);
  });

  it('wakes the listeners when delayed jobs fall due, the soonest first, and goes on taking markers meanwhile', async () => {
    const { scripted, listener: idle, stop } = await watching(true);
    scripted.give({ score: NOW + 5_000 });
    await jest.advanceTimersByTimeAsync(0);
    expect(scripted.waitingNow).toBe(true);
    scripted.give({ score: NOW + 2_000 });
    await jest.advanceTimersByTimeAsync(0);
    await jest.advanceTimersByTimeAsync(1_999);
    expect(idle.woken).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(idle.woken).toBe(1);
    stop();
    scripted.give(null);
  });

  it('waits for a delayed job due months ahead without waking before it falls due', async () => {
    const { scripted, listener: idle, stop } = await watching(true);
    scripted.give({ score: NOW + 100 * 86_400_000 });
    await jest.advanceTimersByTimeAsync(60_000);
    expect([idle.woken, scripted.putBacks]).toEqual([0, 0]);
    stop();
    scripted.give(null);
  });

  it('puts a delayed-job marker back when it falls due after the last listener left', async () => {
    const { scripted, stop } = await watching(true);
    scripted.give({ score: NOW + 3_000 });
    await jest.advanceTimersByTimeAsync(0);
    stop();
    scripted.give(null);
    await jest.advanceTimersByTimeAsync(2_999);
    expect(scripted.putBacks).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(scripted.putBacks).toBe(1);
  });

  it('waits and tries again when a wait fails (Redis unreachable), and stops once no one listens', async () => {
    jest.useFakeTimers();
    let failing = true;
    let takes = 0;
    const markers = new QueueMarkers({
      take: async () => {
        takes += 1;
        if (failing) throw new Error('connection lost');
        return null;
      },
      putBack: async () => undefined,
    });
    const stop = markers.listen(listener(true));
    await jest.advanceTimersByTimeAsync(0);
    expect(takes).toBe(1);
    await jest.advanceTimersByTimeAsync(999);
    expect(takes).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(takes).toBe(2);
    failing = false;
    await jest.advanceTimersByTimeAsync(1000);
    expect(takes).toBeGreaterThan(2);
    const before = takes;
    stop();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(takes).toBe(before);
  });
});
