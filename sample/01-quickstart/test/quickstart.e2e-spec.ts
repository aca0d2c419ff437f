import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

describe('sample/01-quickstart', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('POST /users enqueues sendWelcome and returns the finished result', async () => {
    const response = await request(app.getHttpServer())
      .post('/users')
      .expect(201);

    expect(response.body).toEqual({
      id: 1,
      taskId: expect.stringMatching(UUID),
      status: 'SUCCESSFUL',
    });
  });

  it('gives every enqueue its own task id', async () => {
    const first = await request(app.getHttpServer()).post('/users').expect(201);
    const second = await request(app.getHttpServer())
      .post('/users')
      .expect(201);

    expect(second.body.id).toBe(first.body.id + 1);
    expect(second.body.taskId).not.toBe(first.body.taskId);
    expect(second.body.status).toBe('SUCCESSFUL');
  });
});
