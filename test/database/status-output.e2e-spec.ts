import { Module, type Type } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DatabaseBackend, TasksModule } from '../../lib/index.js';
import { analyze, freshId, insertNumberedRows } from '../support/bulk-rows.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { runCommand } from '../support/run-command.js';

/** More SUCCESSFUL results than `tasks:status` counts one by one. */
const FINISHED = 12_000;

function appModuleFor(dataSource: DataSource, tableName: string): Type {
  @Module({
    imports: [
      TasksModule.forRoot({
        backends: {
          default: {
            backend: DatabaseBackend,
            queues: [],
            options: { dataSource, tableName },
          },
        },
      }),
    ],
  })
  class StatusApp {}
  return StatusApp;
}

/**
 * `tasks:status` and `tasks:prune` on a table with more finished results
 * than are counted one by one: the counts say which are exact, which are
 * the database's estimates (PostgreSQL, MariaDB) and which stopped at the
 * limit (SQLite, which keeps no statistics to estimate by), in text and in
 * JSON.
 */
describe.each(availableDatabases())(
  'tasks:status and tasks:prune on a large table on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_status');
    let ds: DataSource;
    let App: Type;
    const estimated = db.name !== 'sqlite';

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      App = appModuleFor(ds, table);
      const hourAgo = Date.now() - 3_600_000;
      const ready = `i > ${FINISHED}`;
      await insertNumberedRows(
        ds,
        db.name,
        table,
        {
          id: freshId(db.name),
          task_name: "'Status.task'",
          backend: "'default'",
          queue_name: "'default'",
          priority: '0',
          status: `CASE WHEN ${ready} THEN 'READY' ELSE 'SUCCESSFUL' END`,
          args: "'[]'",
          available_at: `${hourAgo} + i`,
          enqueued_at: `${hourAgo} + i`,
          finished_at: `CASE WHEN ${ready} THEN NULL ELSE ${hourAgo} + i END`,
          attempts: '0',
          max_attempts: '1',
          worker_ids: "'[]'",
          errors: "'[]'",
          metadata: "'{}'",
        },
        FINISHED + 3,
      );
      await analyze(ds, db.name, table);
    }, 120_000);

    afterAll(() => closeTestDataSource(db, ds, table));

    it('labels the count it estimated or stopped, in text and in JSON', async () => {
      const text = await runCommand(App, ['tasks:status']);
      expect(text.exitCode).toBe(0);
      expect(text.output).toMatch(/default\s+READY\s+3\n/);
      expect(text.output).toMatch(
        estimated
          ? /\*\s+SUCCESSFUL\s+~\d+ \(estimate\)\n/
          : /\*\s+SUCCESSFUL\s+> 10000\n/,
      );
      expect(text.output).toContain('read off the database');

      const json = await runCommand(App, ['tasks:status', '--json']);
      expect(json.exitCode).toBe(0);
      // Nothing but the document on standard output: Nest logs to standard error.
      expect(json.stdout.trim().split('\n')).toHaveLength(1);
      const [backend] = JSON.parse(json.stdout).backends;
      expect(backend).toMatchObject({
        alias: 'default',
        backendClass: 'DatabaseBackend',
      });
      expect(backend.counts).toContainEqual({
        queue: 'default',
        status: 'READY',
        count: 3,
        precision: 'exact',
      });
      expect(backend.counts).toContainEqual(
        expect.objectContaining({
          queue: '*',
          status: 'SUCCESSFUL',
          precision: estimated ? 'estimate' : 'more-than',
        }),
      );
    });

    it('says a dry run is an estimate, and deletes every result asked for', async () => {
      const dryRun = await runCommand(App, [
        'tasks:prune',
        '--older-than',
        '0ms',
        '--dry-run',
      ]);
      expect(dryRun.output).toMatch(
        estimated
          ? /Would delete ~\d+ \(estimate\) result\(s\)/
          : /Would delete > 10000 result\(s\)/,
      );

      const prune = await runCommand(App, [
        'tasks:prune',
        '--older-than',
        '0ms',
        '--batch-size',
        '5000',
      ]);
      expect(prune.output).toContain(
        `Deleted ${FINISHED} result(s) (SUCCESSFUL, FAILED, CANCELLED).`,
      );
      const after = await runCommand(App, ['tasks:status', '--json']);
      expect(JSON.parse(after.stdout).backends[0].counts).toEqual([
        { queue: 'default', status: 'READY', count: 3, precision: 'exact' },
      ]);
    });
  },
);
