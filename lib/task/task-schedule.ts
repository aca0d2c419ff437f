import { Cron } from 'croner';
import { InvalidTaskError } from '../errors/invalid-task.error.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TaskOptions } from './task-options.js';

/** The time zone a schedule without `timeZone` is read in: the same on every host. */
const DEFAULT_SCHEDULE_TIME_ZONE = 'UTC';

const SCHEDULE_KEYS = ['cron', 'timeZone'];

/** Whether the runtime knows `timeZone` (an IANA name such as 'Europe/Paris'). */
function knowsTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * When a periodic task falls due: the ticks of its cron expression (five
 * fields, or six with seconds first), read in its time zone. Parsed and
 * computed by croner; every worker computes the same ticks, so a tick's
 * time identifies it wherever it is enqueued.
 */
export class TaskSchedule {
  private constructor(
    readonly cron: string,
    readonly timeZone: string,
    private readonly pattern: Cron,
  ) {}

  /**
   * The schedule `@Task({ schedule })` gives the task `taskName`; an
   * `InvalidTaskError` naming the task, the value and the fix when it is
   * not a cron expression, names an unknown time zone or never fires.
   */
  static parse(
    taskName: string,
    value: NonNullable<TaskOptions['schedule']>,
  ): TaskSchedule {
    const spec = typeof value === 'string' ? { cron: value } : value;
    if (
      typeof spec !== 'object' ||
      spec === null ||
      typeof spec.cron !== 'string' ||
      !(spec.timeZone === undefined || typeof spec.timeZone === 'string') ||
      Object.keys(spec).some((key) => !SCHEDULE_KEYS.includes(key))
    )
      throw new InvalidTaskError(TaskMessages.badSchedule(taskName, value));
    const timeZone = spec.timeZone ?? DEFAULT_SCHEDULE_TIME_ZONE;
    if (!knowsTimeZone(timeZone))
      throw new InvalidTaskError(
        TaskMessages.unknownTimeZone(taskName, timeZone),
      );
    let pattern: Cron;
    try {
      pattern = new Cron(spec.cron, {
        mode: '5-or-6-parts',
        timezone: timeZone,
        paused: true,
      });
    } catch (error) {
      throw new InvalidTaskError(
        TaskMessages.badCron(taskName, spec.cron, (error as Error).message),
      );
    }
    // A date instead of a pattern would be a single run, not a schedule.
    if (pattern.getOnce() !== null)
      throw new InvalidTaskError(
        TaskMessages.badCron(taskName, spec.cron, 'a date, not a pattern'),
      );
    const schedule = new TaskSchedule(spec.cron, timeZone, pattern);
    if (schedule.nextTick(new Date()) === null)
      throw new InvalidTaskError(
        TaskMessages.cronNeverFires(taskName, spec.cron),
      );
    return schedule;
  }

  /** The first tick strictly after `after`, or null when none is left. */
  nextTick(after: Date): Date | null {
    return this.pattern.nextRun(after);
  }

  /** The latest tick at or before `now`, or null when there was none. */
  latestTick(now: Date): Date | null {
    // croner counts a tick earlier in the same second as the reference, not one exactly at it.
    const [latest] = this.pattern.previousRuns(1, new Date(now.getTime() + 1));
    return latest ?? null;
  }
}
