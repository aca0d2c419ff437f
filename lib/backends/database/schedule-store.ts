import type { QueryRunner } from 'typeorm';
import type { SqlConnection } from './sql-connection.js';
import { SqlBuilder } from './sql-builder.js';

/** A periodic task's last enqueued tick, as stored. */
export interface ScheduleRow {
  taskName: string;
  /** Epoch milliseconds. */
  lastTick: number;
}

/** Every statement on the schedules table, where periodic tasks' last enqueued ticks are kept. */
export class ScheduleStore {
  private readonly table: string;

  constructor(private readonly sql: SqlConnection) {
    this.table = sql.dialect.quote(sql.tables.schedules);
  }

  /**
   * Advances the last tick of `taskName` to `tick` if it is earlier (a
   * compare-and-set: of workers trying the same tick at once, one wins),
   * in the transaction of `runner`; returns whether it did.
   */
  async advance(
    runner: QueryRunner,
    taskName: string,
    tick: number,
  ): Promise<boolean> {
    const sql = new SqlBuilder(this.sql.dialect);
    const result = await runner.query(
      `UPDATE ${this.table} SET last_tick = ${sql.p(tick, 'bigint')} ` +
        `WHERE task_name = ${sql.p(taskName, 'text')} AND last_tick < ${sql.p(tick, 'bigint')}`,
      sql.params,
      true,
    );
    return (result.affected ?? 0) > 0;
  }

  /** Records `tick` as the last tick of a task seen for the first time; a task already recorded is left as it is. */
  async start(
    runner: QueryRunner,
    taskName: string,
    tick: number,
  ): Promise<void> {
    const sql = new SqlBuilder(this.sql.dialect);
    await runner.query(
      this.sql.dialect.insertIfAbsentSql(
        this.table,
        ['task_name', 'last_tick'],
        [sql.p(taskName, 'text'), sql.p(tick, 'bigint')],
      ),
      sql.params,
    );
  }

  /** Every periodic task's last enqueued tick. */
  async lastTicks(): Promise<ScheduleRow[]> {
    const rows = await this.sql.read(
      `SELECT task_name, last_tick FROM ${this.table} ORDER BY task_name`,
      [],
    );
    return rows.map((row) => ({
      taskName: String(row.task_name),
      lastTick: Number(row.last_tick),
    }));
  }
}
