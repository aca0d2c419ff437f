import type { TestingModule } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { createTaskMigrations } from '../../lib/index.js';
import { ProcessTasks } from '../src/process-tasks.js';
import {
  dataSourceOptions,
  type TestDatabaseName,
} from '../src/test-database.js';
import { availableDatabases } from '../support/databases.js';
import {
  ENQUEUER_ENTRY,
  buildTestApp,
  killAll,
  startCli,
  type CliProcess,
} from '../support/worker-process.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';

const PROCESSES = 5;
const ENQUEUES_EACH = 10;

beforeAll(buildTestApp, 60_000);

/**
 * Enqueues of one unique key racing from several processes at once: the
 * database's unique index lets exactly one of them store a result, and
 * every other returns that one.
 */
describe.each(availableDatabases().map((db) => db.name))(
  'unique enqueues racing from processes on %s',
  (db: TestDatabaseName) => {
    const table = `t_uproc_${randomBytes(4).toString('hex')}`;
    const sqliteFile = join(tmpdir(), `${table}.sqlite`);
    const env = {
      TASKS_TEST_DB: db,
      TASKS_TEST_TABLE: table,
      TASKS_TEST_SQLITE_FILE: sqliteFile,
    };
    let ds: DataSource;
    let moduleRef: TestingModule;
    const processes: CliProcess[] = [];

    /** `PROCESSES` processes each make `ENQUEUES_EACH` concurrent enqueues of `key`, all released at once; the ids they got. */
    const race = async (key: string): Promise<string[]> => {
      const go = join(
        tmpdir(),
        `${table}-${key}-${randomBytes(4).toString('hex')}.go`,
      );
      try {
        const started = Array.from({ length: PROCESSES }, () =>
          startCli(env, [key, String(ENQUEUES_EACH), go], ENQUEUER_ENTRY),
        );
        processes.push(...started);
        await waitFor(
          'the enqueuing processes to boot',
          () =>
            started.every((child) => /^ready$/m.test(child.output())) ||
            started.some((child) => child.child.exitCode !== null),
          60_000,
        );
        writeFileSync(go, '');
        const ids: string[] = [];
        for (const child of started) {
          const code = await child.exited;
          if (code !== 0)
            throw new Error(
              `an enqueuing process exited with ${code}:\n${child.output()}`,
            );
          const line = child
            .output()
            .split('\n')
            .find((text) => text.startsWith('["')); // not a '[Nest]' log line
          ids.push(...(JSON.parse(line!) as string[]));
        }
        return ids;
      } finally {
        rmSync(go, { force: true });
      }
    };
    const stored = async (): Promise<{ id: string; status: string }[]> =>
      ds.query(`SELECT id, status FROM ${table} ORDER BY seq`);

    beforeAll(async () => {
      ds = new DataSource({
        ...dataSourceOptions(db, sqliteFile),
        migrations: createTaskMigrations(table),
        migrationsTableName: `${table}_migrations`,
      });
      await ds.initialize();
      await ds.runMigrations();
      moduleRef = await bootTasksApp({
        tableName: table,
        providers: [ProcessTasks],
        provideDataSource: ds,
      });
    }, 60_000);

    afterEach(async () => {
      await killAll(processes);
    });

    afterAll(async () => {
      await moduleRef?.close();
      if (ds?.isInitialized) {
        for (const name of [
          `${table}_outbox`,
          `${table}_schedules`,
          `${table}_workers`,
          table,
          `${table}_migrations`,
        ])
          await ds.query(`DROP TABLE IF EXISTS ${name}`);
        await ds.destroy();
      }
      for (const suffix of ['', '-wal', '-shm'])
        rmSync(`${sqliteFile}${suffix}`, { force: true });
    });

    it(`stores one READY result for ${PROCESSES * ENQUEUES_EACH} concurrent enqueues of one key, returned to all, and a new one once it finished`, async () => {
      const ids = await race('report');
      expect(ids).toHaveLength(PROCESSES * ENQUEUES_EACH);
      const [first] = ids;
      expect(new Set(ids)).toEqual(new Set([first]));
      expect(await stored()).toEqual([{ id: first, status: 'READY' }]);

      expect(await batchWorker(moduleRef).run()).toBe('drained');
      const again = await race('report');
      expect(new Set(again).size).toBe(1);
      expect(again[0]).not.toBe(first);
      expect(await stored()).toEqual([
        { id: first, status: 'SUCCESSFUL' },
        { id: again[0], status: 'READY' },
      ]);
    }, 180_000);
  },
);
