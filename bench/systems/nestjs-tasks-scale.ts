import type { INestApplicationContext } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { INSERT_COLUMNS } from '../../lib/backends/database/task-columns.js';
import {
  TaskQueue,
  TaskResultStatus,
  type TaskDefinition,
} from '../../lib/index.js';
import {
  analyze,
  freshId,
  insertNumberedRows,
  literal,
  type BulkDatabase,
} from '../../test/support/bulk-rows.js';
import type { ScaleOperations, ShownCount } from '../system.js';

const { SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;
const HOUR_MS = 60 * 60 * 1000;
/** Rows per INSERT of the fills: each its own transaction. */
const FILL_CHUNK = 1_000_000;
/** What `tasks:prune` deletes per statement by default. */
const PRUNE_BATCH = 1_000;

/**
 * The scale phase on a DatabaseBackend: rows copied by the database from
 * one enqueued the ordinary way, so that they are stored exactly as the
 * backend stores them; `tasks:status` and `tasks:prune` through the
 * backend's administration.
 */
export class SqlScaleOperations implements ScaleOperations {
  constructor(
    private readonly app: INestApplicationContext,
    private readonly dataSource: DataSource,
    private readonly db: BulkDatabase,
    private readonly table: string,
    private readonly noop: TaskDefinition<[number], void>,
  ) {}

  /** `n` rows: the one `definition` enqueues, and n - 1 copies of it with `changes` (SQL of the row number `i`). */
  private async copies(
    definition: TaskDefinition<[number], void>,
    n: number,
    changes: Record<string, string>,
  ): Promise<string> {
    const template = await definition.enqueue(0);
    const [row] = await this.dataSource.query(
      `SELECT * FROM ${this.table} WHERE id = '${template.id}'`,
    );
    const columns: Record<string, string> = {};
    for (const { name } of INSERT_COLUMNS) columns[name] = literal(row[name]);
    await insertNumberedRows(
      this.dataSource,
      this.db,
      this.table,
      { ...columns, id: freshId(this.db), ...changes },
      n - 1,
      FILL_CHUNK,
    );
    return template.id;
  }

  async fillDeferred(n: number, runAt: Date): Promise<void> {
    // Ahead of every task the bench drains: a claim meets them first.
    await this.copies(
      this.noop.using({ runAfter: runAt, priority: 10 }),
      n,
      {},
    );
  }

  async fillFinished(n: number, pruneBefore: Date): Promise<void> {
    const older = Math.floor(n / 2);
    const before = pruneBefore.getTime();
    const now = Date.now();
    // The older half over the five days before `pruneBefore`, the rest over the last 20 hours.
    const finishedAt =
      `CASE WHEN i <= ${older} THEN ${before - 5 * 24 * HOUR_MS} + (i - 1) * ${Math.floor((5 * 24 * HOUR_MS) / Math.max(1, older))} ` +
      `ELSE ${now - 20 * HOUR_MS} + (i - ${older}) * ${Math.floor((20 * HOUR_MS) / Math.max(1, n - older))} END`;
    const template = await this.copies(this.noop, n + 1, {
      status: `CASE WHEN i % 50 = 0 THEN '${FAILED}' ELSE '${SUCCESSFUL}' END`,
      available_at: `${finishedAt} - 10`,
      enqueued_at: `${finishedAt} - 10`,
      started_at: `${finishedAt} - 5`,
      last_attempted_at: `${finishedAt} - 5`,
      finished_at: finishedAt,
      attempts: '1',
      worker_ids: literal('["bench-fill"]'),
      return_value: literal('null'),
    });
    await this.dataSource.query(
      `DELETE FROM ${this.table} WHERE id = '${template}'`,
    );
  }

  async settle(): Promise<void> {
    await analyze(this.dataSource, this.db, this.table);
    if (this.db === 'postgres') await this.dataSource.query('CHECKPOINT');
  }

  private admin() {
    return this.app.get(TaskQueue).backend().admin()!;
  }

  async status(): Promise<ShownCount[]> {
    return (await this.admin().status()).counts;
  }

  async prune(before: Date): Promise<number> {
    const pruned = await this.admin().prune({
      finishedBefore: before,
      statuses: [SUCCESSFUL, FAILED, CANCELLED],
      dryRun: false,
      batchSize: PRUNE_BATCH,
    });
    return typeof pruned === 'number' ? pruned : pruned.count;
  }
}
