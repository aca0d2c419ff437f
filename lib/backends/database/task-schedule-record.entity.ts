import { recordEntity, type RecordOf } from './record-entity.js';
import { SCHEDULE_COLUMNS } from './task-columns.js';

/** The default name of the table where periodic tasks' last enqueued ticks are kept. */
export const SCHEDULE_TABLE = 'nestjs_task_schedules';

/**
 * A periodic task's last enqueued tick, which every worker advances by a
 * compare-and-set so that each tick is enqueued once. Generated from
 * `SCHEDULE_COLUMNS`, with `synchronize: false`, like `TaskRecord`.
 */
export const TaskScheduleRecord: new () => TaskScheduleRecord = recordEntity(
  'TaskScheduleRecord',
  SCHEDULE_TABLE,
  SCHEDULE_COLUMNS,
);
export type TaskScheduleRecord = RecordOf<typeof SCHEDULE_COLUMNS>;
