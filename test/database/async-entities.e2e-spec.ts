import { Injectable } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Test } from '@nestjs/testing';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatabaseBackend,
  InvalidTaskBackendError,
  Task,
  TaskQueue,
  TaskResultStatus,
  TasksModule,
} from '../../lib/index.js';

@Injectable()
class AsyncTasks {
  @Task()
  async ping(): Promise<string> {
    return 'pong';
  }
}

/** `autoLoadEntities` with TasksModule.forRootAsync, on a SQLite file (the registration is per DataSource name, not per database). */
describe('TasksModule.forRootAsync with autoLoadEntities', () => {
  const files: string[] = [];

  const boot = async (dataSources?: string[]) => {
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
          synchronize: true,
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

  // Runs first: entity registration is process-wide, so the next test would register them for this one too.
  it('without dataSources, explains at the first enqueue how to create the tables', async () => {
    const moduleRef = await boot();
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

  it("with dataSources: ['default'], registers the task entities for synchronize", async () => {
    const moduleRef = await boot(['default']);
    try {
      const result = await moduleRef.get(TaskQueue).enqueue(AsyncTasks, 'ping');
      expect(result.status).toBe(TaskResultStatus.READY);
    } finally {
      await moduleRef.close();
    }
  });
});
