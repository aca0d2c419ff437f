import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  DummyBackend,
  ImmediateBackend,
  InvalidTaskArgumentsError,
  Task,
  TaskQueue,
  TaskResultStatus,
  TasksModule,
} from '../../lib/index.js';
import { bootApp } from '../support/boot-app.js';
import {
  TaskQueueTester,
  TasksTestingModule,
} from '../../lib/testing/index.js';

@Injectable()
class ReportTasks {
  @Task({ unique: { key: (accountId: number) => `account-${accountId}` } })
  async rebuild(accountId: number): Promise<number> {
    return accountId;
  }
}

describe('unique tasks', () => {
  it('return the pending result for the same key instead of enqueueing again, until it has run', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TasksModule.forRoot({
          backends: { default: { backend: DummyBackend } },
        }),
        TasksTestingModule.forRoot(),
      ],
      providers: [ReportTasks],
    }).compile();
    await moduleRef.init();
    try {
      const queue = moduleRef.get(TaskQueue);
      const first = await queue.enqueue(ReportTasks, 'rebuild', 1);
      expect((await queue.enqueue(ReportTasks, 'rebuild', 1)).id).toBe(
        first.id,
      );
      const other = await queue.enqueue(ReportTasks, 'rebuild', 2);
      expect(other.id).not.toBe(first.id);
      const forced = await queue
        .task(ReportTasks, 'rebuild')
        .using({ uniqueKey: 'manual' })
        .enqueue(1);
      expect(forced.id).not.toBe(first.id);
      expect(
        (
          await queue
            .task(ReportTasks, 'rebuild')
            .using({ uniqueKey: 'manual' })
            .enqueue(3)
        ).id,
      ).toBe(forced.id);
      expect((queue.backend() as DummyBackend).results).toHaveLength(3);
      await moduleRef.get(TaskQueueTester).runAll();
      expect((await queue.enqueue(ReportTasks, 'rebuild', 1)).id).not.toBe(
        first.id,
      );
    } finally {
      await moduleRef.close();
    }
  });

  it.each<[string, (accountId: number) => unknown, RegExp]>([
    [
      'throws',
      () => {
        throw new Error('no account');
      },
      /threw .*no account/,
    ],
    ['returns a number', (accountId) => accountId, /returned 1 /],
    ['returns an empty string', () => '', /returned "" /],
    ['returns undefined', () => undefined, /returned undefined /],
  ])(
    'refuse an enqueue whose unique.key function %s, naming the task, and store nothing',
    async (_what, key, message) => {
      @Injectable()
      class BadKeyTasks {
        @Task({ unique: { key: key as (accountId: number) => string } })
        async rebuild(accountId: number): Promise<number> {
          return accountId;
        }
      }
      const app = await bootApp({
        tasks: { backends: { default: { backend: DummyBackend } } },
        providers: [BadKeyTasks],
      });
      try {
        const rebuild = app.tasks.task(BadKeyTasks, 'rebuild');
        for (const enqueue of [
          () => rebuild.enqueue(1),
          () => rebuild.enqueueMany([[1], [2]]),
        ]) {
          const error = await enqueue().then(
            () => null,
            (caught: unknown) => caught,
          );
          expect(error).toBeInstanceOf(InvalidTaskArgumentsError);
          expect((error as Error).message).toMatch(/BadKeyTasks\.rebuild/);
          expect((error as Error).message).toMatch(message);
        }
        expect((app.tasks.backend() as DummyBackend).results).toHaveLength(0);
      } finally {
        await app.close();
      }
    },
  );

  it('on an ImmediateBackend, return the running result to an enqueue of its key instead of running it again', async () => {
    const app = await bootApp({
      tasks: { backends: { default: { backend: ImmediateBackend } } },
      providers: [GatedTasks],
    });
    try {
      const gate = app.get(GatedTasks);
      const first = app.tasks.enqueue(GatedTasks, 'run', 'a');
      await gate.started;
      const again = await app.tasks.enqueue(GatedTasks, 'run', 'a');
      expect(again.status).toBe(TaskResultStatus.RUNNING);
      expect(gate.runs).toEqual(['a']);
      gate.open();
      const finished = await first;
      expect(again).toBe(finished);
      expect(finished.status).toBe(TaskResultStatus.SUCCESSFUL);
      const next = await app.tasks.enqueue(GatedTasks, 'run', 'a');
      expect(next.id).not.toBe(finished.id);
      expect(gate.runs).toEqual(['a', 'a']);
    } finally {
      await app.close();
    }
  });
});

/** A unique task whose runs wait until the test opens its gate. */
@Injectable()
class GatedTasks {
  readonly runs: string[] = [];
  private opened = false;
  private release = () => {};
  private readonly gate = new Promise<void>((resolve) => {
    this.release = resolve;
  });
  private announce = () => {};
  /** Resolves once the first run has started. */
  readonly started = new Promise<void>((resolve) => {
    this.announce = resolve;
  });

  open(): void {
    this.opened = true;
    this.release();
  }

  @Task({ unique: { key: (name: string) => name } })
  async run(name: string): Promise<string> {
    this.runs.push(name);
    this.announce();
    if (!this.opened) await this.gate;
    return name;
  }
}
