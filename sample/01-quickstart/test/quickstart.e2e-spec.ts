import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATABASE_FILE = join(tmpdir(), `quickstart-${process.pid}.sqlite`);

describe('sample/01-quickstart', () => {
  let app: INestApplication;

  beforeAll(async () => {
    process.env.DATABASE_FILE = DATABASE_FILE;
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(`${DATABASE_FILE}${suffix}`, { force: true });
  });

  it('POST /users enqueues sendWelcome; the in-process worker runs it', async () => {
    const created = await request(app.getHttpServer())
      .post('/users')
      .expect(201);
    expect(created.body).toEqual({
      id: 1,
      taskId: expect.stringMatching(UUID),
      status: 'READY',
    });

    let task = { status: 'READY', returnValue: null as unknown };
    for (let polls = 0; polls < 200 && task.status !== 'SUCCESSFUL'; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      task = (
        await request(app.getHttpServer())
          .get(`/users/tasks/${created.body.taskId}`)
          .expect(200)
      ).body;
    }
    expect(task.status).toBe('SUCCESSFUL');
    expect(task.returnValue).toEqual({ sent: true, userId: 1 });
  });

  it('gives every enqueue its own task id', async () => {
    const first = await request(app.getHttpServer()).post('/users').expect(201);
    const second = await request(app.getHttpServer())
      .post('/users')
      .expect(201);
    expect(second.body.id).toBe(first.body.id + 1);
    expect(second.body.taskId).not.toBe(first.body.taskId);
  });
});
