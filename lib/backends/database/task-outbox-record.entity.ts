import { recordEntity, type RecordOf } from './record-entity.js';
import { OUTBOX_COLUMNS } from './task-columns.js';

/** The default name of the outbox table. */
export const OUTBOX_TABLE = 'nestjs_task_outbox';

/**
 * An enqueue written in a transaction for a backend that cannot join it (a
 * backend alias with `outbox`), waiting to be relayed to that backend once
 * the transaction has committed. Generated from `OUTBOX_COLUMNS`, with
 * `synchronize: false`, like `TaskRecord`.
 */
export const TaskOutboxRecord: new () => TaskOutboxRecord = recordEntity(
  'TaskOutboxRecord',
  OUTBOX_TABLE,
  OUTBOX_COLUMNS,
);
export type TaskOutboxRecord = RecordOf<typeof OUTBOX_COLUMNS>;
