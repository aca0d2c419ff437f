import { Injectable } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Test, type TestingModule } from '@nestjs/testing';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import {
  DatabaseBackend,
  InvalidTaskBackendError,
  Task,
  TaskQueue,
  TaskRecord,
  TaskResultStatus,
  TaskWorkerRecord,
  TasksModule,
} from '../../lib/index.js';

@Injectable()
class AsyncTasks {
  @Task()
  async ping(): Promise<string> {
    return 'pong';
  }
}

/**
 * `autoLoadEntities` with TasksModule.forRootAsync, on a SQLite file (the
 * registration is per DataSource name, not per database). The entities serve
 * reading rows with TypeORM; the tables come from the backend itself under
 * `synchronize: true`, whether they are registered or not.
 */
describe('TasksModule.forRootAsync with autoLoadEntities', () => {
  const files: string[] = [];

  const boot = async (dataSources?: string[], synchronize = true) => {
    const file = join(
      tmpdir(),
      `nestjs-tasks-async-${process.pid}-${files.length}.sqlite`,
    );
    files.push(file);
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'better-sqlite3',
          database: file,
          autoLoadEntities: true,
          synchronize,
        }),
        TasksModule.forRootAsync({
          dataSources,
          useFactory: async () => ({
            backends: { default: { backend: DatabaseBackend } },
          }),
        }),
      ],
      providers: [AsyncTasks],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    return moduleRef;
  };

  afterAll(() => {
    for (const file of files)
      for (const suffix of ['', '-wal', '-shm'])
        rmSync(`${file}${suffix}`, { force: true });
  });

  const registered = (moduleRef: TestingModule) =>
    [TaskRecord, TaskWorkerRecord].map((entity) =>
      moduleRef.get(DataSource).hasMetadata(entity),
    );

  // Runs first: entity registration is process-wide, so a later test would register them for this one too.
  it('without dataSources, registers no entities; synchronize: true still creates the tables', async () => {
    const moduleRef = await boot();
    try {
      expect(registered(moduleRef)).toEqual([false, false]);
      const result = await moduleRef.get(TaskQueue).enqueue(AsyncTasks, 'ping');
      expect(result.status).toBe(TaskResultStatus.READY);
    } finally {
      await moduleRef.close();
    }
  });

  it('without synchronize, explains at the first enqueue how to create the tables', async () => {
    const moduleRef = await boot(undefined, false);
    try {
      const enqueue = moduleRef.get(TaskQueue).enqueue(AsyncTasks, 'ping');
      await expect(enqueue).rejects.toThrow(InvalidTaskBackendError);
      await expect(
        moduleRef.get(TaskQueue).enqueue(AsyncTasks, 'ping'),
      ).rejects.toThrow(/taskMigrations/);
    } finally {
      await moduleRef.close();
    }
  });

  it("with dataSources: ['default'], registers the task entities", async () => {
    const moduleRef = await boot(['default']);
    try {
      expect(registered(moduleRef)).toEqual([true, true]);
      const result = await moduleRef.get(TaskQueue).enqueue(AsyncTasks, 'ping');
      expect(result.status).toBe(TaskResultStatus.READY);
      const rows = await moduleRef
        .get(DataSource)
        .getRepository(TaskRecord)
        .findBy({ id: result.id });
      expect(rows).toMatchObject([
        { id: result.id, taskName: 'AsyncTasks.ping' },
      ]);
    } finally {
      await moduleRef.close();
    }
  });
});
