import { jest } from '@jest/globals';
import { Logger, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { DataSource } from 'typeorm';
import {
  TaskQueue,
  TaskResultStatus,
  TasksError,
  TasksModule,
} from '../../lib/index.js';
import { TasksDashboardModule } from '../../lib/dashboard/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
} from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import {
  ADMIN_COOKIE,
  AdminCookieGuard,
  AdminTokenGuard,
  AdminTokensModule,
  DashboardTasks,
  dashboardApp,
} from './dashboard.fixtures.js';

const sqlite = availableDatabases().find((db) => db.name === 'sqlite')!;
const ADMIN = `${ADMIN_COOKIE.name}=${ADMIN_COOKIE.value}`;
const PLATFORMS = [
  { name: 'Express', adapter: () => new ExpressAdapter() },
  { name: 'Fastify', adapter: () => new FastifyAdapter() },
];

/** Every page and action of the dashboard, below its path. */
const ROUTES = (id: string): [string, string][] => [
  ['GET', ''],
  ['GET', '/overview/live'],
  ['GET', '/results'],
  ['GET', `/results/${id}`],
  ['GET', `/results/${id}/live`],
  ['GET', '/assets/htmx.min.js'],
  ['GET', '/assets/dashboard.css'],
  ['POST', `/results/${id}/retry`],
  ['POST', `/results/${id}/cancel`],
  ['POST', '/bulk/retry'],
  ['POST', '/bulk/cancel'],
];

/** The CSRF cookie a page sets, as a Cookie header pair. */
function csrfCookie(response: Response): string {
  const cookie = response.headers.get('set-cookie') ?? '';
  const pair = /nestjs_tasks_csrf=[^;]+/.exec(cookie)?.[0];
  if (!pair) throw new Error(`no CSRF cookie in ${JSON.stringify(cookie)}`);
  return pair;
}

/** The CSRF token of a page's forms. */
async function formToken(response: Response): Promise<string> {
  const token = /name="_csrf"\s+value="([^"]+)"/.exec(
    await response.text(),
  )?.[1];
  if (!token) throw new Error('no CSRF field in the page');
  return token;
}

describe('TasksDashboardModule.forRoot', () => {
  it('refuses to mount without a guard unless public', () => {
    expect(() => TasksDashboardModule.forRoot()).toThrow(TasksError);
    expect(() => TasksDashboardModule.forRoot()).toThrow(/needs a 'guard'/);
    expect(() => TasksDashboardModule.forRoot({ public: true })).not.toThrow();
    expect(() =>
      TasksDashboardModule.forRoot({ guard: AdminCookieGuard }),
    ).not.toThrow();
  });

  it('warns at startup when the dashboard is public', async () => {
    const warn = jest
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation(() => undefined);
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [
          TasksModule.forRoot(),
          TasksDashboardModule.forRoot({ public: true, path: '/ops/tasks' }),
        ],
      }).compile();
      await moduleRef.init();
      await moduleRef.close();
      expect(warn).toHaveBeenCalledWith(
        expect.stringContaining(
          "The tasks dashboard at '/ops/tasks' is public (no guard)",
        ),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses a path that is not a URL path', () => {
    expect(() =>
      TasksDashboardModule.forRoot({ public: true, path: '/a b' }),
    ).toThrow(/'path' must be a URL path/);
  });
});

describe.each(PLATFORMS)('dashboard access on $name', ({ adapter }) => {
  const table = uniqueTableName('t_dash_access');
  let ds: DataSource;
  let app: INestApplication;
  let readOnlyApp: INestApplication;
  let url: string;
  let readOnlyUrl: string;
  let failedId: string;

  const listen = async (target: INestApplication) => {
    await target.listen(0, '127.0.0.1');
    return (await target.getUrl()).replace('[::1]', '127.0.0.1') + '/tasks';
  };

  beforeAll(async () => {
    ds = await openTestDataSource(sqlite, table);
    app = await NestFactory.create(
      dashboardApp(ds, table, { guard: AdminCookieGuard, readOnly: false }),
      adapter(),
      { logger: false },
    );
    url = await listen(app);
    readOnlyApp = await NestFactory.create(
      // No worker of its own: the flaky tasks' first failures are the other app's.
      dashboardApp(ds, table, { guard: AdminCookieGuard }, false),
      adapter(),
      { logger: false },
    );
    readOnlyUrl = await listen(readOnlyApp);
    const failed = await app
      .get(TaskQueue)
      .enqueue(DashboardTasks, 'flaky', 'access');
    await waitFor('the flaky task to fail', async () => {
      await failed.refresh();
      return failed.isFinished;
    });
    failedId = failed.id;
  });

  afterAll(async () => {
    await readOnlyApp?.close();
    await app?.close();
    await closeTestDataSource(sqlite, ds, table);
  });

  it('answers 403 on every page and action without the guard’s consent', async () => {
    for (const [method, path] of ROUTES(failedId)) {
      const response = await fetch(`${url}${path}`, {
        method,
        redirect: 'manual',
      });
      expect([method, path, response.status]).toEqual([method, path, 403]);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    }
  });

  it('serves every page, htmx and the stylesheet with the guard’s consent', async () => {
    for (const [method, path] of ROUTES(failedId)) {
      if (method !== 'GET') continue;
      const response = await fetch(`${url}${path}`, {
        headers: { cookie: ADMIN },
      });
      expect([path, response.status]).toEqual([path, 200]);
    }
    const htmx = await fetch(`${url}/assets/htmx.min.js`, {
      headers: { cookie: ADMIN },
    });
    expect(htmx.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await htmx.text()).toContain('htmx');
    const page = await fetch(url, { headers: { cookie: ADMIN } });
    expect(page.headers.get('content-security-policy')).toContain(
      "script-src 'self'",
    );
    // (The page's text wraps where its template does.)
    expect(await page.text()).toMatch(
      /This backend keeps no results:\s+tasks run in the enqueuing process or\s+are only recorded\./,
    );
    const inline = await fetch(`${url}/results?backend=inline`, {
      headers: { cookie: ADMIN },
    });
    expect(inline.status).toBe(400);
    expect(await inline.text()).toContain(
      'Backend &#39;inline&#39; (ImmediateBackend) offers no result browsing',
    );
    const unknown = await fetch(`${url}/results?backend=elsewhere`, {
      headers: { cookie: ADMIN },
    });
    expect(unknown.status).toBe(404);
    const missing = await fetch(
      `${url}/results/00000000-0000-0000-0000-000000000000`,
      { headers: { cookie: ADMIN } },
    );
    expect(missing.status).toBe(404);
    const badStatus = await fetch(`${url}/results?status=DONE`, {
      headers: { cookie: ADMIN },
    });
    expect(badStatus.status).toBe(400);
    expect(await badStatus.text()).toContain(
      'The filter &#39;status&#39; cannot be &quot;DONE&quot;.',
    );
  });

  it('refuses a POST without the CSRF token, or with a token not its cookie’s', async () => {
    const page = await fetch(`${url}/results/${failedId}`, {
      headers: { cookie: ADMIN },
    });
    const cookie = csrfCookie(page);
    const token = await formToken(page);
    const post = (body: string, cookies: string) =>
      fetch(`${url}/results/${failedId}/retry`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie: cookies,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body,
      });
    const missing = await post('', `${ADMIN}; ${cookie}`);
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('CSRF token is missing');
    const noCookie = await post(`_csrf=${encodeURIComponent(token)}`, ADMIN);
    expect(noCookie.status).toBe(403);
    const forged = await post(
      '_csrf=forged.token',
      `${ADMIN}; nestjs_tasks_csrf=forged.token`,
    );
    expect(forged.status).toBe(403);
    const result = await app.get(TaskQueue).getResult(failedId);
    expect(result.status).toBe(TaskResultStatus.FAILED);

    const accepted = await post(
      `_csrf=${encodeURIComponent(token)}`,
      `${ADMIN}; ${cookie}`,
    );
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toBe(
      `/tasks/results/${failedId}?backend=default&done=retried`,
    );
    await waitFor('the retried task to succeed', async () => {
      await result.refresh();
      return result.status === TaskResultStatus.SUCCESSFUL;
    });
  });

  it('shows no action and refuses every one when read-only', async () => {
    const page = await fetch(`${readOnlyUrl}/results/${failedId}`, {
      headers: { cookie: ADMIN },
    });
    const cookie = csrfCookie(page);
    const html = await page.text();
    expect(html).not.toContain('<form class="inline" method="post"');
    const token = /nestjs_tasks_csrf=([^;]+)/.exec(cookie)![1];
    for (const [method, path] of ROUTES(failedId)) {
      if (method !== 'POST') continue;
      const response = await fetch(`${readOnlyUrl}${path}`, {
        method,
        redirect: 'manual',
        headers: {
          cookie: `${ADMIN}; ${cookie}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: `_csrf=${encodeURIComponent(decodeURIComponent(token))}`,
      });
      expect([path, response.status]).toEqual([path, 403]);
      expect(await response.text()).toContain('read-only');
    }
  });

  it('builds the guard with what `imports` provides', async () => {
    const guarded = await NestFactory.create(
      dashboardApp(
        ds,
        table,
        { guard: AdminTokenGuard, imports: [AdminTokensModule] },
        false,
      ),
      adapter(),
      { logger: false },
    );
    try {
      const at = await listen(guarded);
      const get = (token: string) =>
        fetch(at, { headers: { 'x-admin-token': token } });
      expect((await get('let-me-in')).status).toBe(200);
      expect((await get('guess')).status).toBe(403);
    } finally {
      await guarded.close();
    }
  });

  it('retries and cancels every result matching a filter', async () => {
    const queue = app.get(TaskQueue);
    const flaky = await queue
      .task(DashboardTasks, 'flaky')
      .enqueueMany([['bulk-1'], ['bulk-2'], ['bulk-3']]);
    for (const result of flaky)
      await waitFor('a flaky task to fail', async () => {
        await result.refresh();
        return result.status === TaskResultStatus.FAILED;
      });
    const later = await queue
      .task(DashboardTasks, 'add')
      .using({ runAfter: new Date(Date.now() + 3_600_000), queueName: 'later' })
      .enqueueMany([
        [1, 1],
        [2, 2],
      ]);
    const page = await fetch(`${url}/results`, { headers: { cookie: ADMIN } });
    const cookie = csrfCookie(page);
    const token = encodeURIComponent(await formToken(page));
    const post = (action: string, filter: string) =>
      fetch(`${url}/bulk/${action}`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie: `${ADMIN}; ${cookie}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: `_csrf=${token}&backend=default&${filter}`,
      });

    const retried = await post(
      'retry',
      'task=DashboardTasks.flaky&status=FAILED&queue=default',
    );
    expect(retried.status).toBe(303);
    expect(retried.headers.get('location')).toContain(
      'done=bulk-retried&count=3',
    );
    for (const result of flaky)
      await waitFor('a retried task to succeed', async () => {
        await result.refresh();
        return result.status === TaskResultStatus.SUCCESSFUL;
      });

    const cancelled = await post('cancel', 'queue=later');
    expect(cancelled.headers.get('location')).toContain(
      'done=bulk-cancelled&count=2',
    );
    for (const result of later) {
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.CANCELLED);
    }
    const notice = await fetch(
      `${url}${cancelled.headers.get('location')!.replace('/tasks', '')}`,
      { headers: { cookie: ADMIN } },
    );
    expect(await notice.text()).toContain('2 result(s) cancelled.');
  });
});
