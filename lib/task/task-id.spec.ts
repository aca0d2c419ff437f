import { newTaskId } from './task-id.js';

describe('newTaskId', () => {
  it('is a UUID of version 7 and variant 10xx, starting with the time in ms', () => {
    const now = Date.UTC(2026, 11, 1, 3, 4, 5, 678);
    const id = newTaskId(now);
    expect(id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('sorts ids of later milliseconds after earlier ones, as text', () => {
    const start = Date.now();
    const ids = Array.from({ length: 2000 }, (_, i) =>
      newTaskId(start + Math.floor(i / 10)),
    );
    const byMs = ids.filter((_, i) => i % 10 === 0);
    expect([...byMs].sort()).toEqual(byMs);
  });

  it('never repeats, within one millisecond and across the pool of random bytes', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 100_000 }, () => newTaskId(now)));
    expect(ids.size).toBe(100_000);
  });
});
