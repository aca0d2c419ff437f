import {
  BadRequestException,
  Controller,
  Injectable,
  Param,
  ParseIntPipe,
  Post,
  type INestApplication,
} from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  DummyBackend,
  Task,
  TaskQueue,
  TaskResultStatus,
  TasksModule,
  type TasksModuleOptions,
} from '../../lib/index.js';
import { waitFor } from '../support/wait.js';

@Injectable()
class MailTasks {
  @Task()
  async welcome(userId: number): Promise<number> {
    return userId;
  }
}

/** Enqueues a level below the controller. */
@Injectable()
class Signups {
  constructor(private readonly tasks: TaskQueue) {}

  async signUp(userId: number) {
    return this.tasks.enqueue(MailTasks, 'welcome', userId);
  }
}

@Controller('users')
class UsersController {
  constructor(
    private readonly signups: Signups,
    private readonly tasks: TaskQueue,
  ) {}

  @Post(':id')
  async create(@Param('id', ParseIntPipe) id: number) {
    const result = await this.signups.signUp(id);
    const dispatchedSoFar = (this.tasks.backend() as DummyBackend).results
      .length;
    return { taskId: result.id, status: result.status, dispatchedSoFar };
  }

  @Post(':id/fail')
  async createThenFail(@Param('id', ParseIntPipe) id: number) {
    await this.tasks.enqueue(MailTasks, 'welcome', id);
    throw new BadRequestException(`user ${id} is invalid`);
  }
}

const adapters = [
  ['express', () => undefined],
  ['fastify', () => new FastifyAdapter()],
] as const;

describe.each(adapters)('request lifecycle on %s', (_name, adapter) => {
  let app: INestApplication;
  let dummy: DummyBackend;

  const boot = async (options: TasksModuleOptions) => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TasksModule.forRoot({
          backends: { default: { backend: DummyBackend } },
          ...options,
        }),
      ],
      controllers: [UsersController],
      providers: [MailTasks, Signups],
    }).compile();
    const httpAdapter = adapter();
    app = httpAdapter
      ? moduleRef.createNestApplication(httpAdapter, { logger: false })
      : moduleRef.createNestApplication({ logger: false });
    await app.init();
    if (httpAdapter) await httpAdapter.getInstance().ready();
    dummy = app.get(TaskQueue).backend() as DummyBackend;
  };
  const dispatchedUsers = () =>
    dummy.results
      .map((result) => result.args[0] as number)
      .sort((a, b) => a - b);

  afterEach(async () => {
    await app?.close();
  });

  describe("with 'after-response'", () => {
    beforeEach(() => boot({ requestLifecycle: 'after-response' }));

    it('holds an enqueue made deep in a 2xx handler and dispatches it once the handler succeeded', async () => {
      const response = await request(app.getHttpServer())
        .post('/users/1')
        .expect(201);
      expect(response.body.status).toBe(TaskResultStatus.READY);
      expect(response.body.dispatchedSoFar).toBe(0);
      await waitFor('the dispatch', () => dummy.results.length === 1);
      expect(dummy.results[0].id).toBe(response.body.taskId);
      expect(dummy.results[0].args).toEqual([1]);
    });

    it('drops the enqueues of a throwing handler', async () => {
      await request(app.getHttpServer()).post('/users/2/fail').expect(400);
      await request(app.getHttpServer()).post('/users/3').expect(201);
      await waitFor(
        'the dispatch of the later request',
        () => dummy.results.length > 0,
      );
      expect(dispatchedUsers()).toEqual([3]);
    });

    it('keeps 100 concurrent requests apart, half of them failing', async () => {
      const ids = Array.from({ length: 100 }, (_, i) => i + 1);
      const responses = await Promise.all(
        ids.map((id) =>
          request(app.getHttpServer()).post(
            id % 2 === 0 ? `/users/${id}` : `/users/${id}/fail`,
          ),
        ),
      );
      expect(responses.map((response) => response.status).sort()).toEqual([
        ...Array(50).fill(201),
        ...Array(50).fill(400),
      ]);
      const even = ids.filter((id) => id % 2 === 0);
      await waitFor('50 dispatches', () => dummy.results.length >= 50);
      expect(dispatchedUsers()).toEqual(even);
      const byUser = new Map(
        dummy.results.map((result) => [result.args[0], result.id]),
      );
      for (const response of responses.filter((r) => r.status === 201)) {
        expect([...byUser.values()]).toContain(response.body.taskId);
      }
    });
  });

  describe("with 'after-response' and a backend with enqueueOnCommit: false", () => {
    beforeEach(() =>
      boot({
        requestLifecycle: 'after-response',
        backends: {
          default: { backend: DummyBackend, enqueueOnCommit: false },
        },
      }),
    );

    it('still holds enqueues for the request: that option is about transactions', async () => {
      await request(app.getHttpServer()).post('/users/6/fail').expect(400);
      await request(app.getHttpServer()).post('/users/7').expect(201);
      await waitFor(
        'the dispatch of the later request',
        () => dummy.results.length > 0,
      );
      expect(dispatchedUsers()).toEqual([7]);
    });
  });

  describe("with the default 'immediate'", () => {
    beforeEach(() => boot({}));

    it('dispatches during the handler, and a throwing handler does not undo it', async () => {
      const response = await request(app.getHttpServer())
        .post('/users/4')
        .expect(201);
      expect(response.body.dispatchedSoFar).toBe(1);
      await request(app.getHttpServer()).post('/users/5/fail').expect(400);
      expect(dispatchedUsers()).toEqual([4, 5]);
    });
  });
});

describe('requestLifecycle validation', () => {
  it('refuses an unknown value at bootstrap, naming the choices', async () => {
    const moduleRef = Test.createTestingModule({
      imports: [TasksModule.forRoot({ requestLifecycle: 'later' as never })],
    });
    await expect(moduleRef.compile()).rejects.toThrow(
      /'immediate' or 'after-response'.*"later"/,
    );
  });
});
