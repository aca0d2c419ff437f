import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { OnTaskEvent, type TaskResult } from '../../lib/index.js';

/**
 * With TASKS_TEST_RECORD_FINISHED=1, records every `finished` event of this
 * process in the `<table>_outcomes` table, so a suite can count recorded
 * outcomes across processes. Off by default: nothing is written.
 */
@Injectable()
export class ProcessEvents {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @OnTaskEvent('finished')
  async onFinished({ result }: { result: TaskResult<unknown> }): Promise<void> {
    if (process.env.TASKS_TEST_RECORD_FINISHED !== '1') return;
    const table = `${process.env.TASKS_TEST_TABLE}_outcomes`;
    const placeholders =
      this.dataSource.options.type === 'postgres' ? '$1, $2, $3' : '?, ?, ?';
    await this.dataSource.query(
      `INSERT INTO ${table} (result_id, pid, status) VALUES (${placeholders})`,
      [result.id, process.pid, result.status],
    );
  }
}
