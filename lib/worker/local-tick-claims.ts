import type { PeriodicTask } from './tick-scheduler.js';

/**
 * Ticks decided within this process, for a backend whose worker queue has
 * no `claimTick`: the workers of this process enqueue each tick once among
 * themselves, but another process decides on its own. As with the store's
 * decision, a task seen for the first time starts at its next tick.
 */
export class LocalTickClaims {
  /** Per backend, each periodic task's latest tick taken (epoch ms). */
  private readonly taken = new WeakMap<object, Map<string, number>>();

  async claim(
    backend: object,
    task: PeriodicTask,
    tick: Date,
  ): Promise<boolean> {
    let ticks = this.taken.get(backend);
    if (!ticks) this.taken.set(backend, (ticks = new Map()));
    const last = ticks.get(task.name);
    const time = tick.getTime();
    if (last !== undefined && last >= time) return false;
    // Taken before the enqueue is awaited: another worker here sees it at once.
    ticks.set(task.name, time);
    if (last === undefined) return false;
    try {
      await task.enqueue(tick, null);
      return true;
    } catch (error) {
      if (ticks.get(task.name) === time) ticks.set(task.name, last);
      throw error;
    }
  }
}
