import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { TaskQueue, TaskResultStatus, type TaskResult } from 'nestjs-tasks';
import { AppModule } from '../src/app.module.js';

const DATABASE_URL =
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TASKS_TABLE = `dashboard_sample_${process.pid}`;
// The repository's test setup says '0' when PostgreSQL did not answer (and says so loudly).
const describeWithPostgres =
  process.env.NESTJS_TASKS_TEST_POSTGRES === '0' ? describe.skip : describe;
const ADMIN = `Basic ${Buffer.from('admin:sample-secret').toString('base64')}`;

/** Waits until `result` is finished (the in-process worker runs it). */
async function finished(result: TaskResult<unknown>): Promise<void> {
  for (let i = 0; i < 400 && !result.isFinished; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    await result.refresh();
  }
}

/** Drops the sample's task tables (created by `synchronize`). */
async function dropTaskTables(): Promise<void> {
  const db = await new DataSource({
    type: 'postgres',
    url: DATABASE_URL,
  }).initialize();
  try {
    const tables: { tablename: string }[] = await db.query(
      `SELECT tablename FROM pg_tables WHERE tablename LIKE $1`,
      [`${TASKS_TABLE}%`],
    );
    for (const { tablename } of tables)
      await db.query(`DROP TABLE IF EXISTS "${tablename}" CASCADE`);
  } finally {
    await db.destroy();
  }
}

describeWithPostgres('sample/04-dashboard', () => {
  let app: INestApplication;
  let queue: TaskQueue;

  beforeAll(async () => {
    process.env.TASKS_TABLE = TASKS_TABLE;
    process.env.DASHBOARD_PASSWORD = 'sample-secret';
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    queue = app.get(TaskQueue);
  });

  afterAll(async () => {
    await app?.close();
    await dropTaskTables();
  });

  const get = (path: string) =>
    request(app.getHttpServer()).get(path).set('authorization', ADMIN);

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

  it('shows tasks that succeed, succeed after retries and fail, and the periodic task', async () => {
    const created = await request(app.getHttpServer())
      .post('/demo')
      .expect(201);
    const ids = created.body as {
      emails: string[];
      retried: string;
      failing: string;
    };
    const emails = await Promise.all(
      ids.emails.map((id) => queue.getResult(id)),
    );
    const retried = await queue.getResult(ids.retried);
    const failing = await queue.getResult(ids.failing);
    for (const result of [...emails, retried, failing]) await finished(result);
    for (const email of emails)
      expect(email.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(retried.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(retried.attempts).toBe(3);
    expect(retried.errors).toHaveLength(2);
    expect(failing.status).toBe(TaskResultStatus.FAILED);

    const overview = await get('/tasks').expect(200);
    expect(overview.text).toContain('Periodic tasks');
    expect(overview.text).toContain('DemoTasks.cleanUp');
    expect(overview.text).toContain('data-queue="emails"');

    const failed = await get('/tasks/results?status=FAILED').expect(200);
    expect(failed.text).toContain(ids.failing);
    expect(failed.text).not.toContain(ids.emails[0]);
    const page = await get(`/tasks/results/${ids.failing}`).expect(200);
    expect(page.text).toContain('line 3 has 4 columns, not 5');
    const retriedPage = await get(`/tasks/results/${ids.retried}`).expect(200);
    expect(retriedPage.text).toContain('The billing API timed out (attempt 2)');
  });

  it('shows a failed report, retries it from its page, and the retry succeeds with its progress full', async () => {
    const created = await request(app.getHttpServer())
      .post('/reports/13')
      .expect(201);
    const { taskId } = created.body as { taskId: string };
    const report = await queue.getResult(taskId);
    await finished(report);
    expect(report.status).toBe(TaskResultStatus.FAILED);

    const page = await get(`/tasks/results/${taskId}`).expect(200);
    expect(page.text).toContain('Page 13 is unlucky');
    expect(page.text).toContain('Retry as a new attempt');
    const cookie = /nestjs_tasks_csrf=[^;]+/.exec(
      String(page.headers['set-cookie']),
    )?.[0];
    const token = /name="_csrf"\s+value="([^"]+)"/.exec(page.text)?.[1];
    expect(cookie && token).toBeTruthy();
    await request(app.getHttpServer())
      .post(`/tasks/results/${taskId}/retry`)
      .set('authorization', ADMIN)
      .set('cookie', cookie!)
      .type('form')
      .send({ _csrf: token })
      .expect(303);
    await report.refresh();
    await finished(report);
    expect(report.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(report.progress).toBe(1);
    expect(report.attempts).toBe(2);
  });
});
