import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { TaskQueue, TaskResultStatus } from 'nestjs-tasks';
import { AppModule } from '../src/app.module.js';

const DATABASE_FILE = join(tmpdir(), `dashboard-sample-${process.pid}.sqlite`);
const ADMIN = `Basic ${Buffer.from('admin:sample-secret').toString('base64')}`;

describe('sample/04-dashboard', () => {
  let app: INestApplication;

  beforeAll(async () => {
    process.env.DATABASE_FILE = DATABASE_FILE;
    process.env.DASHBOARD_PASSWORD = 'sample-secret';
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

  it('asks for the password before showing the dashboard', async () => {
    const refused = await request(app.getHttpServer())
      .get('/tasks')
      .expect(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Basic /);
    await request(app.getHttpServer())
      .get('/tasks')
      .set(
        'authorization',
        `Basic ${Buffer.from('admin:guess').toString('base64')}`,
      )
      .expect(401);
  });

  it('shows an enqueued report on the dashboard, with its failure to retry', async () => {
    const created = await request(app.getHttpServer())
      .post('/reports/13')
      .expect(201);
    const { taskId } = created.body as { taskId: string };
    const result = await app.get(TaskQueue).getResult(taskId);
    for (let i = 0; i < 200 && !result.isFinished; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await result.refresh();
    }
    expect(result.status).toBe(TaskResultStatus.FAILED);
    const page = await request(app.getHttpServer())
      .get(`/tasks/results/${taskId}`)
      .set('authorization', ADMIN)
      .expect(200);
    expect(page.text).toContain('Page 13 is unlucky');
    expect(page.text).toContain('Retry as a new attempt');
  });
});
